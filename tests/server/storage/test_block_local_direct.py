"""Large blobs on local disk are written with O_DIRECT: the same bytes and MD5 as the
buffered path, whatever the chunking, and the page cache is left to reads."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakever_server.storage.block import direct
from lakever_server.storage.block.direct import (
    ALIGN,
    BUFFERED_PIECE,
    DIRECT_AFTER,
    DIRECT_BLOCK,
    BlobWriter,
)
from lakever_server.storage.block.local import TEMP_PREFIX, LocalBlockStore

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT here")

MIB = 1024 * 1024


@pytest.fixture
def local(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "root")


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(DIRECT_AFTER + 3 * DIRECT_BLOCK + 12_345)


def _chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


SIZES = {
    "just-under": DIRECT_AFTER - 1,
    "at": DIRECT_AFTER,
    "just-over": DIRECT_AFTER + 1,
    "a-block-over": DIRECT_AFTER + DIRECT_BLOCK,
    "blocks-and-a-tail": None,
}
CASES = [
    pytest.param(size, chunk, id=f"{name}-chunks-of-{chunk}")
    for name, size in SIZES.items()
    for chunk in [4095, 65_537, MIB, 5 * MIB]
] + [
    # Byte by byte across the switch (after a bulk first piece: slow otherwise).
    pytest.param(size, 1, id=f"{name}-byte-by-byte")
    for name, size in SIZES.items()
    if size is not None and size <= DIRECT_AFTER + 1
]


@pytest.mark.parametrize(("size", "chunk"), CASES)
def test_a_blob_around_the_threshold_holds_its_bytes_and_md5(
    local: LocalBlockStore, data: bytes, size: int | None, chunk: int
) -> None:
    blob = data[:size]
    start = max(0, DIRECT_AFTER - 3 * ALIGN) if chunk == 1 else 0
    chunks = [blob[:start], *_chunked(blob[start:], chunk)]
    result = local.put("local://ns/blob", chunks)
    assert result.size == len(blob)
    assert result.md5 == hashlib.md5(blob).hexdigest()
    assert (local.root / "ns" / "blob").read_bytes() == blob


def _resident_pages(path: Path) -> int:
    """Pages of the file in the page cache (``mincore`` over a mapping of it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vector = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        try:
            if libc.mincore(address, size, vector) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed")
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)
    return sum(byte & 1 for byte in vector)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore as Linux has it")
def test_a_large_blob_leaves_the_page_cache_to_reads(local: LocalBlockStore) -> None:
    blob = os.urandom(DIRECT_AFTER + 4 * DIRECT_BLOCK)
    local.put("local://ns/large", _chunked(blob, MIB))
    path = local.root / "ns" / "large"
    pages = len(blob) // mmap.PAGESIZE
    # At most the buffered head (below the threshold) and the tail stay cached.
    assert _resident_pages(path) <= (DIRECT_AFTER + DIRECT_BLOCK) // mmap.PAGESIZE < pages
    assert path.read_bytes() == blob


def test_the_writer_switches_at_an_aligned_offset_and_ends_buffered(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "file", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        writer = BlobWriter(fd, direct_after=10)
        writer.write(b"a" * 7)
        assert not writer.direct
        writer.write(b"b" * (ALIGN + 100))
        assert writer.direct
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
        writer.write(b"c" * (DIRECT_BLOCK + 5))
        writer.finish()
        assert not writer.direct
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)
    expected = b"a" * 7 + b"b" * (ALIGN + 100) + b"c" * (DIRECT_BLOCK + 5)
    assert (tmp_path / "file").read_bytes() == expected
    assert writer.size == len(expected)


def test_a_file_system_refusing_o_direct_gets_the_same_bytes_buffered(
    local: LocalBlockStore, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused: list[int] = []

    def refuse(fd: int, on: bool) -> bool:  # as fcntl answers on such file systems
        refused.append(fd)
        return False

    monkeypatch.setattr(direct, "_set_direct", refuse)
    result = local.put("local://ns/blob", _chunked(data, MIB))
    assert refused
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert (local.root / "ns" / "blob").read_bytes() == data


def test_a_direct_write_refused_for_its_alignment_goes_on_buffered(
    local: LocalBlockStore, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest, whole aligned buffers of MiBs, goes to the kernel in bounded pieces."""
    real_pwrite = os.pwrite
    refusals: list[int] = []
    buffered: list[int] = []

    def pwrite(fd: int, buffer: bytes | memoryview, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            if len(refusals) < 1:
                refusals.append(offset)
                raise OSError(errno.EINVAL, "Invalid argument")
        else:
            buffered.append(len(buffer))
        return real_pwrite(fd, buffer, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    result = local.put("local://ns/blob", _chunked(data, 300_000))
    [offset] = refusals
    assert offset % ALIGN == 0
    assert offset <= DIRECT_AFTER
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert (local.root / "ns" / "blob").read_bytes() == data
    assert max(buffered) <= BUFFERED_PIECE


def test_a_large_write_failing_midway_leaves_nothing_and_returns_its_buffer(
    local: LocalBlockStore, data: bytes
) -> None:
    def failing() -> Iterator[bytes]:
        yield from _chunked(data[: DIRECT_AFTER + 2 * DIRECT_BLOCK], MIB)
        raise OSError("client went away")

    for _ in range(direct.KEPT_BUFFERS + 2):
        with pytest.raises(OSError, match="client went away"):
            local.put("local://ns/blob", failing())
    assert not local.exists("local://ns/blob")
    assert [p for p in local.root.rglob("*") if p.name.startswith(TEMP_PREFIX)] == []
    assert 1 <= len(direct._buffers._free) <= direct.KEPT_BUFFERS


@pytest.mark.parametrize(
    "slot", [2 * DIRECT_BLOCK, 5 * MIB + 1], ids=["aligned-slots", "unaligned-slots"]
)
def test_multipart_parts_in_slots_hold_their_bytes(local: LocalBlockStore, slot: int) -> None:
    parts = [os.urandom(slot), os.urandom(slot), os.urandom(slot // 3 + 7)]
    upload = local.create_multipart("local://ns/m")
    listed = []
    # Out of order, the first one sets the slot size; odd chunking.
    for number in (2, 1, 3):
        part = parts[number - 1]
        result = local.upload_part("local://ns/m", upload, number, _chunked(part, 100_003))
        assert result.md5 == hashlib.md5(part).hexdigest()
        listed.append((number, result.md5))
    local.complete_multipart("local://ns/m", upload, sorted(listed))
    assert (local.root / "ns" / "m").read_bytes() == b"".join(parts)


def test_concurrent_large_writes_each_keep_their_own_bytes(local: LocalBlockStore) -> None:
    blobs = [os.urandom(DIRECT_AFTER + 2 * DIRECT_BLOCK + n * 1000) for n in range(6)]
    errors: list[BaseException] = []

    def put(n: int) -> None:
        try:
            result = local.put(f"local://ns/{n}", _chunked(blobs[n], 300_000))
            assert result.md5 == hashlib.md5(blobs[n]).hexdigest()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(len(blobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for n, blob in enumerate(blobs):
        assert (local.root / "ns" / str(n)).read_bytes() == blob


@pytest.mark.parametrize("size", [1, BUFFERED_PIECE - 1, BUFFERED_PIECE + 1, 3 * MIB + 7])
def test_buffered_writes_go_to_the_kernel_in_bounded_pieces(
    tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write of several MiB handed to one ``pwrite`` makes the kernel take large
    folios; the writer cuts it into pieces, and the file still holds every byte."""
    real_pwrite = os.pwrite
    lengths: list[int] = []

    def pwrite(fd: int, buffer: bytes | memoryview, offset: int) -> int:
        lengths.append(len(buffer))
        return real_pwrite(fd, buffer, offset)

    monkeypatch.setattr(direct.os, "pwrite", pwrite)
    data = os.urandom(size)
    path = tmp_path / "blob"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        writer = BlobWriter(fd, direct_after=None)
        writer.write(data)
        writer.finish()
    finally:
        os.close(fd)
    assert path.read_bytes() == data
    assert max(lengths) <= BUFFERED_PIECE
    assert len(lengths) == -(-size // BUFFERED_PIECE)
