"""Writes read into the local store's aligned buffers (``put_reader``,
``upload_part_reader``): the same blob and checksum as the same bytes as chunks, and no
buffer filled again while a digest still reads it."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from lakever_server.errors import InvalidValue
from lakever_server.storage.block import direct
from lakever_server.storage.block.base import BodyReader, ReaderPutStore
from lakever_server.storage.block.digests import PART_BYTES, BackgroundDigests, PartDigests
from lakever_server.storage.block.direct import ALIGN, DIRECT_BLOCK
from lakever_server.storage.block.local import TEMP_PREFIX, LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore

MIB = 1024 * 1024


class BytesReader:
    """``data`` as a reader giving at most ``step`` bytes a call (a socket's pieces)."""

    def __init__(self, data: bytes, step: int = 300_001, fail_at: int | None = None) -> None:
        self.data = memoryview(data)
        self.length = len(data)
        self.step = step
        self.at = 0
        self.fail_at = fail_at

    def readinto(self, buffer: memoryview) -> int:
        if self.fail_at is not None and self.at >= self.fail_at:
            raise InvalidValue("client disconnected during upload")
        count = min(len(buffer), self.step, len(self.data) - self.at)
        buffer[:count] = self.data[self.at : self.at + count]
        self.at += count
        return count


@pytest.fixture
def local(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "store")


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(2 * PART_BYTES + DIRECT_BLOCK + 3 * ALIGN + 17)


SIZES = [
    pytest.param(0, id="empty"),
    pytest.param(ALIGN - 1, id="a page less a byte"),
    pytest.param(MIB, id="one MiB"),
    pytest.param(DIRECT_BLOCK - 1, id="a buffer less a byte"),
    pytest.param(DIRECT_BLOCK, id="one buffer"),
    pytest.param(DIRECT_BLOCK + 1, id="a buffer and a byte"),
    pytest.param(PART_BYTES - ALIGN, id="a part less a page"),
    pytest.param(PART_BYTES, id="one part"),
    pytest.param(PART_BYTES + 5, id="a part and five bytes"),
    pytest.param(2 * PART_BYTES + DIRECT_BLOCK + 3 * ALIGN + 17, id="parts and an odd tail"),
]


def test_the_local_store_reads_into_its_buffers_and_others_do_not() -> None:
    assert isinstance(LocalBlockStore.__new__(LocalBlockStore), ReaderPutStore)
    assert not isinstance(MemoryBlockStore(), ReaderPutStore)
    assert isinstance(BytesReader(b""), BodyReader)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("part_checksum", [False, True], ids=["md5", "part md5s"])
def test_a_read_blob_equals_the_same_bytes_put_as_chunks(
    local: LocalBlockStore, data: bytes, size: int, part_checksum: bool
) -> None:
    content = data[:size]
    chunks = [content[at : at + 700_000] for at in range(0, size, 700_000)]
    if part_checksum:
        expected = local.put_part_digested("local://ns/chunks", chunks)
    else:
        expected = local.put("local://ns/chunks", chunks)
    stored = local.put_reader("local://ns/read", BytesReader(content), part_checksum=part_checksum)
    assert stored == expected
    assert (local.root / "ns" / "read").read_bytes() == content
    if not part_checksum:
        assert stored.md5 == hashlib.md5(content).hexdigest()


@pytest.mark.parametrize("size", [PART_BYTES, 3 * PART_BYTES + 12345])
def test_a_read_part_equals_the_same_part_uploaded_as_chunks(
    local: LocalBlockStore, data: bytes, size: int
) -> None:
    content = (data * 2)[:size]
    streamed = local.create_multipart("local://ns/a")
    read = local.create_multipart("local://ns/b")
    for number in (1, 2):
        expected = local.upload_part("local://ns/a", streamed, number, [content])
        stored = local.upload_part_reader("local://ns/b", read, number, BytesReader(content))
        assert stored == expected
    parts = [(1, expected.md5), (2, expected.md5)]
    assert local.complete_multipart("local://ns/b", read, parts) == local.complete_multipart(
        "local://ns/a", streamed, parts
    )
    assert (local.root / "ns" / "b").read_bytes() == content * 2


def test_a_part_longer_than_its_slot_gets_a_file_of_its_own(
    local: LocalBlockStore, data: bytes
) -> None:
    upload = local.create_multipart("local://ns/c")
    first = local.upload_part_reader("local://ns/c", upload, 1, BytesReader(data[:PART_BYTES]))
    longer = data[: PART_BYTES + ALIGN]
    second = local.upload_part_reader("local://ns/c", upload, 2, BytesReader(longer))
    assert second.md5 == hashlib.md5(longer).hexdigest()
    done = local.complete_multipart("local://ns/c", upload, [(1, first.md5), (2, second.md5)])
    assert done.size == PART_BYTES + len(longer)
    assert (local.root / "ns" / "c").read_bytes() == data[:PART_BYTES] + longer


def test_a_reader_that_fails_leaves_no_blob_and_gives_its_buffers_back(
    local: LocalBlockStore, data: bytes
) -> None:
    reader = BytesReader(data, fail_at=PART_BYTES + DIRECT_BLOCK)
    with pytest.raises(InvalidValue, match="disconnected"):
        local.put_reader("local://ns/failed", reader, part_checksum=True)
    assert not (local.root / "ns" / "failed").exists()
    assert not [p for p in (local.root / "ns").iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert local.put_reader("local://ns/after", BytesReader(data)).size == len(data)


def test_a_buffer_is_not_filled_again_while_a_digest_reads_it(
    local: LocalBlockStore, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hashing thread is held back on each block: were a buffer refilled before its
    digest read it, the checksum would be of other bytes."""
    feed = BackgroundDigests.__init__.__globals__["_feed"]
    gate = threading.Semaphore(0)
    held = threading.Event()

    def slow_feed(hashers: object, blocks: object) -> None:
        held.set()
        gate.acquire(timeout=0.02)  # a slow hasher, released now and then
        feed(hashers, blocks)

    monkeypatch.setitem(BackgroundDigests.__init__.__globals__, "_feed", slow_feed)
    monkeypatch.setattr(direct, "LENT_BUFFERS", 2)
    stored = local.put_reader("local://ns/slow", BytesReader(data, step=DIRECT_BLOCK))
    assert held.is_set()
    assert stored.md5 == hashlib.md5(data).hexdigest()
    parts = local.put_reader("local://ns/slow-parts", BytesReader(data), part_checksum=True)
    reference = PartDigests()
    reference.update(data)
    assert parts.md5 == reference.hexdigest()


def test_the_socket_is_read_while_the_previous_buffer_goes_to_the_disk(
    local: LocalBlockStore, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first block's write waits until the reader has asked for the next block's
    bytes: a reader that wrote each block before reading on would never ask."""
    asked_past_first = threading.Event()
    waited: list[bool] = []
    write_block = direct.BlobWriter.write_block

    class Watching(BytesReader):
        def readinto(self, buffer: memoryview) -> int:
            if self.at >= DIRECT_BLOCK:
                asked_past_first.set()
            return super().readinto(buffer)

    def held_write(writer: direct.BlobWriter, block: memoryview) -> None:
        if not waited:
            waited.append(asked_past_first.wait(timeout=10))
        write_block(writer, block)

    monkeypatch.setattr(direct.BlobWriter, "write_block", held_write)
    stored = local.put_reader("local://ns/overlap", Watching(data, step=DIRECT_BLOCK))
    assert waited == [True]
    assert stored.md5 == hashlib.md5(data).hexdigest()
    assert (local.root / "ns" / "overlap").read_bytes() == data


def test_a_failed_disk_write_fails_the_put_and_stops_writing(
    local: LocalBlockStore, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    write_block = direct.BlobWriter.write_block

    def failing_write(writer: direct.BlobWriter, block: memoryview) -> None:
        writes.append(len(block))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        write_block(writer, block)

    monkeypatch.setattr(direct.BlobWriter, "write_block", failing_write)
    with pytest.raises(OSError, match="No space left"):
        local.put_reader("local://ns/full", BytesReader(data, step=DIRECT_BLOCK))
    assert len(writes) == 2  # blocks queued behind the failed one are dropped unwritten
    assert not (local.root / "ns" / "full").exists()
    assert not [p for p in (local.root / "ns").iterdir() if p.name.startswith(TEMP_PREFIX)]
