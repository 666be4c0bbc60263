"""Digests computed on another thread are exactly those of the stream, in order."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import zlib

import pytest

from lakever_server.storage.block import digests as digests_module
from lakever_server.storage.block.digests import (
    INLINE_BELOW,
    MAX_OPEN_PARTS,
    MAX_PENDING,
    BackgroundDigests,
    PartDigests,
    multipart_checksum,
)


class Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


@pytest.mark.parametrize(
    "sizes",
    [[], [10], [INLINE_BELOW - 1, 1, 5], [3 * INLINE_BELOW, 7, INLINE_BELOW, 100_000] * 5],
    ids=["empty", "one small block", "small blocks filling a batch", "mixed sizes"],
)
def test_background_digests_equal_the_digests_of_the_whole_stream(sizes: list[int]) -> None:
    blocks = [os.urandom(size) for size in sizes]
    md5, sha256, crc = hashlib.md5(), hashlib.sha256(), Crc32()
    digests = BackgroundDigests([md5, sha256, crc])
    for block in blocks:
        digests.update(block)
    digests.finish()
    whole = b"".join(blocks)
    assert md5.digest() == hashlib.md5(whole).digest()
    assert sha256.digest() == hashlib.sha256(whole).digest()
    assert crc.value == zlib.crc32(whole)


def test_a_failing_hasher_surfaces_from_the_caller() -> None:
    class Broken:
        def update(self, data: bytes) -> None:
            raise ValueError("hasher failed")

        def digest(self) -> bytes:
            return b""

    def stream() -> None:
        digests = BackgroundDigests([Broken()])
        for _ in range(MAX_PENDING + 2):
            digests.update(b"x" * INLINE_BELOW)
        digests.finish()

    with pytest.raises(ValueError, match="hasher failed"):
        stream()


def test_the_caller_waits_once_max_pending_batches_wait() -> None:
    """Memory stays bounded: a slow hasher holds the caller back, and nothing is lost."""
    release = threading.Event()
    seen: list[bytes] = []

    class Slow:
        def update(self, data: bytes) -> None:
            release.wait()
            seen.append(data)

        def digest(self) -> bytes:
            return b""

    digests = BackgroundDigests([Slow()])
    blocks = [bytes([i]) * INLINE_BELOW for i in range(MAX_PENDING + 3)]
    handed: list[int] = []

    def feed() -> None:
        for i, block in enumerate(blocks):
            digests.update(block)
            handed.append(i)

    feeder = threading.Thread(target=feed)
    feeder.start()
    deadline = time.monotonic() + 30
    while len(handed) < MAX_PENDING and time.monotonic() < deadline:
        time.sleep(0.01)
    feeder.join(0.2)
    # MAX_PENDING batches handed over (one of them being hashed): the caller is held.
    assert feeder.is_alive()
    assert len(handed) == MAX_PENDING
    release.set()
    feeder.join(30)
    digests.finish()
    assert seen == blocks


def _multipart_reference(data: bytes, part: int) -> str:
    """What S3 gives ``data`` uploaded as boto3 does: one PUT under ``part`` bytes,
    else parts of ``part`` bytes."""
    if len(data) < part:
        return hashlib.md5(data).hexdigest()
    md5s = [hashlib.md5(data[at : at + part]).digest() for at in range(0, len(data), part)]
    return f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"


PART = 3 * INLINE_BELOW // 2  # parts that end inside the hand-over batches


@pytest.mark.parametrize(
    "size", [0, 1, PART - 1, PART, PART + 1, 2 * PART, 5 * PART + 12345], ids=repr
)
@pytest.mark.parametrize("block", [1000, 65536, 3 * INLINE_BELOW + 7], ids=repr)
def test_part_digests_equal_the_multipart_checksum_of_the_stream(size: int, block: int) -> None:
    data = os.urandom(size)
    digests = PartDigests(PART)
    for at in range(0, size, block):
        digests.update(data[at : at + block])
    assert digests.hexdigest() == _multipart_reference(data, PART)


def test_multipart_checksum_is_the_md5_of_the_part_md5s_and_their_count() -> None:
    parts = [hashlib.md5(b"a").digest(), hashlib.md5(b"b").digest()]
    assert multipart_checksum(parts) == hashlib.md5(parts[0] + parts[1]).hexdigest() + "-2"


def test_parts_are_hashed_at_once_and_never_more_than_max_open_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Consecutive parts hash on different threads (that is the speed-up), and a stream
    faster than its hashers holds at most MAX_OPEN_PARTS parts."""
    release = threading.Event()
    lock = threading.Lock()
    hashing: set[int] = set()
    most = 0
    real_md5 = hashlib.md5

    class Gated:
        def __init__(self) -> None:
            self._md5 = real_md5()

        def update(self, data: bytes) -> None:
            nonlocal most
            with lock:
                hashing.add(id(self))
                most = max(most, len(hashing))
            release.wait()
            self._md5.update(data)

        def digest(self) -> bytes:
            return self._md5.digest()

    monkeypatch.setattr(digests_module.hashlib, "md5", Gated)
    data = os.urandom((MAX_OPEN_PARTS + 2) * INLINE_BELOW)
    digests = PartDigests(INLINE_BELOW)
    fed: list[int] = []

    def feed() -> None:
        for at in range(0, len(data), INLINE_BELOW):
            digests.update(data[at : at + INLINE_BELOW])
            fed.append(at)

    feeder = threading.Thread(target=feed)
    feeder.start()
    deadline = time.monotonic() + 30
    while most < MAX_OPEN_PARTS and time.monotonic() < deadline:
        time.sleep(0.01)
    feeder.join(0.2)
    assert most == MAX_OPEN_PARTS  # that many parts hashing at once, on their own threads
    assert feeder.is_alive()  # and the next part waits for the oldest
    assert len(fed) == MAX_OPEN_PARTS
    release.set()
    feeder.join(30)
    monkeypatch.setattr(digests_module.hashlib, "md5", real_md5)
    assert digests.hexdigest() == _multipart_reference(data, INLINE_BELOW)
