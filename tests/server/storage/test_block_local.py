"""What the local-disk block store adds to the contract: atomic files, a sealed root."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block import open_block_store
from lakever_server.storage.block.local import TEMP_PREFIX, UPLOADS_DIR, LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore


@pytest.fixture
def local(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "root")


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_blobs_are_plain_files_under_the_root(local: LocalBlockStore) -> None:
    local.put("local://repo1/data/ab12", [b"con", b"tent"])
    assert (local.root / "repo1" / "data" / "ab12").read_bytes() == b"content"


def test_a_failed_write_leaves_neither_a_blob_nor_a_temporary_file(
    local: LocalBlockStore,
) -> None:
    local.put("local://ns/k", [b"previous"])

    def failing() -> Iterator[bytes]:
        yield b"x" * 1_000_000
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        local.put("local://ns/k", failing())
    with pytest.raises(OSError, match="client went away"):
        local.put("local://ns/new", failing())
    assert b"".join(local.get("local://ns/k")) == b"previous"
    assert not local.exists("local://ns/new")
    assert _temp_files(local.root) == []


def test_a_symlink_out_of_the_root_is_refused(local: LocalBlockStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (local.root / "ns").mkdir()
    (local.root / "ns" / "escape").symlink_to(outside)
    (local.root / "ns" / "file").symlink_to(outside / "secret")
    for address in ["local://ns/escape/secret", "local://ns/file"]:
        with pytest.raises(InvalidValue):
            list(local.get(address))
        with pytest.raises(InvalidValue):
            local.put(address, [b"overwrite"])
    assert (outside / "secret").read_bytes() == b"not yours"
    assert list(local.list_prefix("local://ns/")) == []


def test_internal_names_are_neither_addressable_nor_listed(local: LocalBlockStore) -> None:
    local.put("local://ns/visible", [b"v"])
    upload = local.create_multipart("local://ns/pending")
    local.upload_part("local://ns/pending", upload, 1, [b"part"])
    (local.root / "ns" / f"{TEMP_PREFIX}crashed").write_bytes(b"half")
    assert [s.address for s in local.list_prefix("local://")] == ["local://ns/visible"]
    for address in [f"local://{UPLOADS_DIR}/{upload}/00001", f"local://ns/{TEMP_PREFIX}x"]:
        with pytest.raises(InvalidValue):
            local.put(address, [b"x"])


def test_a_blob_and_a_folder_cannot_share_a_name(local: LocalBlockStore) -> None:
    local.put("local://ns/a/b", [b"inside"])
    with pytest.raises(InvalidValue):
        local.put("local://ns/a", [b"over the folder"])
    with pytest.raises(InvalidValue):
        local.put("local://ns/a/b/c", [b"under the blob"])
    assert b"".join(local.get("local://ns/a/b")) == b"inside"
    assert _temp_files(local.root) == []


def test_completing_an_upload_removes_its_parts(local: LocalBlockStore) -> None:
    upload = local.create_multipart("local://ns/m")
    part = local.upload_part("local://ns/m", upload, 1, [b"abc"])
    local.complete_multipart("local://ns/m", upload, [(1, part.md5)])
    assert not (local.root / UPLOADS_DIR / upload).exists()
    assert b"".join(local.get("local://ns/m")) == b"abc"


@pytest.mark.parametrize(
    "address",
    ["s3://bucket/key", "local://", "local://ns/"],
    ids=["another scheme", "the root", "a folder"],
)
def test_put_needs_a_local_address_with_a_key(local: LocalBlockStore, address: str) -> None:
    with pytest.raises(InvalidValue):
        local.put(address, [b"x"])


def test_open_block_store_builds_each_kind(tmp_path: Path) -> None:
    local = open_block_store("local", root=tmp_path / "blocks")
    assert isinstance(local, LocalBlockStore)
    assert local.root == (tmp_path / "blocks").resolve()
    assert isinstance(open_block_store("memory"), MemoryBlockStore)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("gcs", {}),
        ("local", {}),
        ("local", {"root": "/x", "bucket": "b"}),
        ("memory", {"root": "/x"}),
        ("s3", {"secret": "x"}),
    ],
    ids=[
        "unknown kind",
        "local without root",
        "local with an extra option",
        "memory with options",
        "s3 with an unknown option",
    ],
)
def test_open_block_store_refuses_unknown_kinds_and_options(
    kind: str, options: dict[str, object]
) -> None:
    with pytest.raises(InvalidValue):
        open_block_store(kind, **options)


def test_an_unsynced_put_is_readable_at_once_and_leaves_no_temporary_file(
    local: LocalBlockStore,
) -> None:
    local.put_unsynced("local://ns/_lakever/nodes/ab/ab12", b"node bytes")
    assert b"".join(local.get("local://ns/_lakever/nodes/ab/ab12")) == b"node bytes"
    local.sync(["local://ns/_lakever/nodes/ab/ab12"])
    assert _temp_files(local.root) == []


@pytest.mark.parametrize("syncfs", [True, False], ids=["one syncfs", "fsync each"])
def test_sync_accepts_many_blobs_across_folders(local: LocalBlockStore, syncfs: bool) -> None:
    local.use_syncfs = syncfs
    addresses = [f"local://ns/n/{i % 7:02d}/{i:04d}" for i in range(50)]
    for address in addresses:
        local.put_unsynced(address, address.encode())
    local.sync(addresses)
    assert [b"".join(local.get(a)) for a in addresses] == [a.encode() for a in addresses]


def test_an_unsynced_put_of_identical_bytes_keeps_the_durable_file(
    local: LocalBlockStore,
) -> None:
    local.put("local://ns/k", [b"same"])
    before = (local.root / "ns" / "k").stat().st_ino
    local.put_unsynced("local://ns/k", b"same")
    assert (local.root / "ns" / "k").stat().st_ino == before
    local.put_unsynced("local://ns/k", b"other")
    assert b"".join(local.get("local://ns/k")) == b"other"


def test_an_unsynced_put_recreates_a_folder_removed_since_the_last_one(
    local: LocalBlockStore,
) -> None:
    local.put_unsynced("local://ns/f/a", b"1")
    local.delete("local://ns/f/a")
    (local.root / "ns" / "f").rmdir()
    local.put_unsynced("local://ns/f/b", b"2")
    assert b"".join(local.get("local://ns/f/b")) == b"2"


@pytest.mark.parametrize(
    "address", ["local://../x", "local://ns/", f"local://ns/{TEMP_PREFIX}x", "mem://ns/k"]
)
def test_unsynced_puts_refuse_what_put_refuses(local: LocalBlockStore, address: str) -> None:
    with pytest.raises(InvalidValue):
        local.put_unsynced(address, b"x")


def test_an_unsynced_put_through_a_symlink_out_of_the_root_is_refused(
    local: LocalBlockStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local.root / "ns").mkdir()
    (local.root / "ns" / "link").symlink_to(outside)
    with pytest.raises(InvalidValue):
        local.put_unsynced("local://ns/link/k", b"x")
    assert list(outside.iterdir()) == []


def test_an_unsynced_put_over_a_folder_is_refused(local: LocalBlockStore) -> None:
    local.put("local://ns/dir/k", [b"x"])
    with pytest.raises(InvalidValue):
        local.put_unsynced("local://ns/dir", b"y")


def test_reads_refuse_symlinks_out_of_the_root_even_in_a_folder_already_read(
    local: LocalBlockStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    local.put("local://ns/ok", [b"fine"])
    assert b"".join(local.get("local://ns/ok")) == b"fine"  # "ns" is now a checked folder
    (local.root / "ns" / "file").symlink_to(outside / "secret")
    (local.root / "ns" / "folder").symlink_to(outside)
    for address in ["local://ns/file", "local://ns/folder/secret", "local://ns/folder"]:
        for read in (lambda a: list(local.get(a)), local.stat):
            with pytest.raises(InvalidValue):
                read(address)
    for address in ["local://ns", "local://ns/missing"]:
        with pytest.raises(NotFound):
            list(local.get(address))
        with pytest.raises(NotFound):
            local.stat(address)


def test_completing_an_upload_copies_its_parts_into_one_file(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [os.urandom(3 * 1024 * 1024 + 17), b"second", os.urandom(100_000)]
    copied: list[int] = []
    real_copy = os.copy_file_range

    def counting_copy(source: int, target: int, count: int, *offsets: int | None) -> int:
        done = real_copy(source, target, count, *offsets)
        copied.append(done)
        return done

    monkeypatch.setattr(os, "copy_file_range", counting_copy)
    upload = local.create_multipart("local://ns/m")
    etags = [local.upload_part("local://ns/m", upload, n, [p]).md5 for n, p in enumerate(parts, 1)]
    result = local.complete_multipart("local://ns/m", upload, list(enumerate(etags, 1)))
    assert b"".join(local.get("local://ns/m")) == b"".join(parts)
    assert result.size == sum(map(len, parts))
    assert sum(copied) == result.size  # every byte went through the kernel's copy
    assert not (local.root / UPLOADS_DIR / upload).exists()
    assert _temp_files(local.root) == []


def test_completing_falls_back_to_copying_where_the_kernel_cannot(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    upload = local.create_multipart("local://ns/m")
    first = local.upload_part("local://ns/m", upload, 1, [b"a" * 3_000_000])
    second = local.upload_part("local://ns/m", upload, 2, [b"tail"])
    local.complete_multipart("local://ns/m", upload, [(1, first.md5), (2, second.md5)])
    assert b"".join(local.get("local://ns/m")) == b"a" * 3_000_000 + b"tail"


def test_a_part_cut_short_by_a_crash_is_refused_on_completion(local: LocalBlockStore) -> None:
    upload = local.create_multipart("local://ns/m")
    first = local.upload_part("local://ns/m", upload, 1, [b"slot size"])
    part = local.upload_part("local://ns/m", upload, 2, [b"a longer part: a file of its own"])
    # Parts are not fsynced: after a power loss a part file may be shorter than uploaded.
    (stored,) = [
        path
        for path in (local.root / UPLOADS_DIR / upload).glob("00002.*")
        if path.suffix != ".md5"
    ]
    with stored.open("r+b") as cut:
        cut.truncate(5)
    with pytest.raises(InvalidValue, match="part 2 is incomplete"):
        local.complete_multipart("local://ns/m", upload, [(1, first.md5), (2, part.md5)])
    assert not local.exists("local://ns/m")
    assert _temp_files(local.root) == []


def test_aborting_an_upload_removes_its_parts(local: LocalBlockStore) -> None:
    upload = local.create_multipart("local://ns/m")
    local.upload_part("local://ns/m", upload, 1, [b"part"])
    local.abort_multipart("local://ns/m", upload)
    assert not (local.root / UPLOADS_DIR / upload).exists()
    assert not local.exists("local://ns/m")


def test_a_large_buffered_write_starts_its_writeback_while_it_is_written(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakever_server.storage.block.local as module

    # Buffered all along, as where the file system refuses O_DIRECT.
    monkeypatch.setattr(module, "DIRECT_AFTER", 1 << 62)
    started: list[tuple[int, int]] = []

    def record(fd: int, offset: int, length: int, flags: int) -> int:
        started.append((offset, length))
        return 0

    monkeypatch.setattr(module, "_sync_file_range", record)
    block = os.urandom(1024 * 1024)
    local.put("local://ns/big", [block] * (2 * module.WRITEBACK_STEP // len(block) + 3))
    assert [offset for offset, _ in started] == [0, module.WRITEBACK_STEP]
    assert all(length == module.WRITEBACK_STEP for _, length in started)
    assert b"".join(local.get("local://ns/big")) == block * (
        2 * module.WRITEBACK_STEP // len(block) + 3
    )


def test_an_undigested_put_is_durable_and_atomic_without_an_md5(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakever_server.storage.block import digests as digests_module
    from lakever_server.storage.block import local as local_module
    from lakever_server.storage.block.base import UndigestedPutStore

    assert isinstance(local, UndigestedPutStore)
    assert not isinstance(MemoryBlockStore(), UndigestedPutStore)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    def no_md5(*args: object) -> object:
        raise AssertionError("an undigested put computed an MD5")

    monkeypatch.setattr(local_module.os, "fsync", fsync)
    monkeypatch.setattr(digests_module.hashlib, "md5", no_md5)
    local.put_undigested("local://ns/_lakever/packs/p1", b"pack bytes")
    assert (local.root / "ns" / "_lakever" / "packs" / "p1").read_bytes() == b"pack bytes"
    assert len(synced) == 2  # the file, then its folder (the rename)
    assert not _temp_files(local.root)
    with pytest.raises(InvalidValue):
        local.put_undigested("local://ns/folder/", b"x")


def test_a_part_digested_put_stores_the_blob_with_the_multipart_checksum_of_8_mib_parts(
    local: LocalBlockStore,
) -> None:
    import hashlib

    from lakever_server.storage.block.base import PartDigestedPutStore
    from lakever_server.storage.block.digests import PART_BYTES, multipart_checksum

    assert isinstance(local, PartDigestedPutStore)
    assert not isinstance(MemoryBlockStore(), PartDigestedPutStore)
    data = os.urandom(PART_BYTES + 5000)
    chunks = [data[at : at + 300_000] for at in range(0, len(data), 300_000)]
    stored = local.put_part_digested("local://ns/big", chunks)
    parts = [hashlib.md5(data[:PART_BYTES]).digest(), hashlib.md5(data[PART_BYTES:]).digest()]
    assert (stored.size, stored.md5) == (len(data), multipart_checksum(parts))
    assert b"".join(local.get("local://ns/big")) == data
    small = local.put_part_digested("local://ns/small", [b"abc"])
    assert small.md5 == hashlib.md5(b"abc").hexdigest()
    assert not _temp_files(local.root)
    with pytest.raises(InvalidValue):
        local.put_part_digested("local://ns/folder/", [b"x"])
