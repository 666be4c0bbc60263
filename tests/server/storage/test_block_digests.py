"""Digests computed on another thread are exactly those of the stream, in order."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import zlib

import pytest

from lakever_server.storage.block.digests import INLINE_BELOW, MAX_PENDING, BackgroundDigests


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
