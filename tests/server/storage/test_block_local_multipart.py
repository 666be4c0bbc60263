"""Multipart uploads on local disk: parts land in slots of one assembly file, and uniform
parts complete by renaming it, without a second copy of the data."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import lakever_server.storage.block.local as module
from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block.local import UPLOADS_DIR, LocalBlockStore

ADDRESS = "local://ns/object"


@pytest.fixture
def local(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "root")


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each composing copy moved (in the kernel or through Python)."""
    moved: list[int] = []
    real_copy = module._copy_all

    def counting_copy(source: int, target: int, size: int, offset: int = 0) -> None:
        moved.append(size)
        real_copy(source, target, size, offset)

    monkeypatch.setattr(module, "_copy_all", counting_copy)
    return moved


def _upload(local: LocalBlockStore, upload: str, parts: list[bytes]) -> list[tuple[int, str]]:
    return [(n, local.upload_part(ADDRESS, upload, n, [p]).md5) for n, p in enumerate(parts, 1)]


def _read(local: LocalBlockStore) -> bytes:
    return b"".join(local.get(ADDRESS))


def _etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"


def test_uniform_parts_complete_by_renaming_the_assembly_file(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(64 * 1024) for _ in range(4)] + [os.urandom(1000)]
    upload = local.create_multipart(ADDRESS)
    listed = _upload(local, upload, parts)
    assembly = local.root / UPLOADS_DIR / upload / module.ASSEMBLY
    inode = assembly.stat().st_ino
    result = local.complete_multipart(ADDRESS, upload, listed)
    assert (local.root / "ns" / "object").stat().st_ino == inode
    assert copied == []
    assert _read(local) == b"".join(parts)
    assert (result.size, result.md5) == (sum(map(len, parts)), _etag(parts))
    assert not (local.root / UPLOADS_DIR / upload).exists()


def test_parts_uploaded_out_of_order_still_complete_without_a_copy(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(10_000) for _ in range(3)] + [b"tail"]
    upload = local.create_multipart(ADDRESS)
    etags = {n: local.upload_part(ADDRESS, upload, n, [parts[n - 1]]).md5 for n in (2, 1, 4, 3)}
    local.complete_multipart(ADDRESS, upload, sorted(etags.items()))
    assert copied == []
    assert _read(local) == b"".join(parts)


def test_a_short_last_part_that_finishes_first_falls_back_to_copying(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(5000), os.urandom(5000), b"short"]
    upload = local.create_multipart(ADDRESS)
    last = local.upload_part(ADDRESS, upload, 3, [parts[2]])  # claims a 5-byte slot
    first = [local.upload_part(ADDRESS, upload, n, [parts[n - 1]]).md5 for n in (1, 2)]
    result = local.complete_multipart(
        ADDRESS, upload, [(1, first[0]), (2, first[1]), (3, last.md5)]
    )
    assert sum(copied) == result.size == sum(map(len, parts))
    assert _read(local) == b"".join(parts)
    assert result.md5 == _etag(parts)


def test_uneven_parts_are_composed_in_order(local: LocalBlockStore, copied: list[int]) -> None:
    parts = [os.urandom(3000), os.urandom(7000), os.urandom(1000), os.urandom(3000)]
    upload = local.create_multipart(ADDRESS)
    result = local.complete_multipart(ADDRESS, upload, _upload(local, upload, parts))
    assert sum(copied) == result.size
    assert _read(local) == b"".join(parts)
    assert result.md5 == _etag(parts)


@pytest.mark.parametrize(
    "numbers", [[1, 3], [1, 2], [2, 3], [3]], ids=["a gap", "a prefix", "a suffix", "the last"]
)
def test_completing_a_subset_of_the_parts_gives_exactly_those_parts(
    local: LocalBlockStore, numbers: list[int]
) -> None:
    parts = [os.urandom(4096) for _ in range(3)]
    upload = local.create_multipart(ADDRESS)
    etags = dict(_upload(local, upload, parts))
    result = local.complete_multipart(ADDRESS, upload, [(n, etags[n]) for n in numbers])
    chosen = [parts[n - 1] for n in numbers]
    assert _read(local) == b"".join(chosen)
    assert (result.size, result.md5) == (sum(map(len, chosen)), _etag(chosen))


@pytest.mark.parametrize("second_size", [4096, 100, 9000], ids=["same", "shorter", "longer"])
def test_the_latest_upload_of_a_part_wins(local: LocalBlockStore, second_size: int) -> None:
    parts = [os.urandom(4096) for _ in range(3)]
    upload = local.create_multipart(ADDRESS)
    etags = dict(_upload(local, upload, parts))
    again = os.urandom(second_size)
    etags[2] = local.upload_part(ADDRESS, upload, 2, [again]).md5
    with pytest.raises(InvalidValue, match="ETag"):
        local.complete_multipart(ADDRESS, upload, [(2, hashlib.md5(parts[1]).hexdigest())])
    local.complete_multipart(ADDRESS, upload, sorted(etags.items()))
    assert _read(local) == parts[0] + again + parts[2]


def test_concurrent_uploads_of_one_part_never_mix_their_bytes(local: LocalBlockStore) -> None:
    size = 64 * 1024
    parts = [os.urandom(size) for _ in range(3)]
    upload = local.create_multipart(ADDRESS)
    etags = dict(_upload(local, upload, parts))
    first_half_sent, may_finish = threading.Event(), threading.Event()
    slow_bytes, fast_bytes = os.urandom(size), os.urandom(size)
    slow_etag: list[str] = []

    def slow_chunks() -> Iterator[bytes]:
        yield slow_bytes[: size // 2]
        first_half_sent.set()
        assert may_finish.wait(10)
        yield slow_bytes[size // 2 :]

    # Part 2 is uploaded again while its first re-upload is still being received.
    slow = threading.Thread(
        target=lambda: slow_etag.append(local.upload_part(ADDRESS, upload, 2, slow_chunks()).md5)
    )
    slow.start()
    assert first_half_sent.wait(10)
    fast = local.upload_part(ADDRESS, upload, 2, [fast_bytes])
    assert fast.md5 == hashlib.md5(fast_bytes).hexdigest()
    may_finish.set()
    slow.join(10)
    assert slow_etag == [hashlib.md5(slow_bytes).hexdigest()]
    # The slow upload finished last: it is the part; the slot of the first upload is intact.
    with pytest.raises(InvalidValue):
        local.complete_multipart(ADDRESS, upload, [(1, etags[1]), (2, fast.md5)])
    local.complete_multipart(ADDRESS, upload, [(1, etags[1]), (2, slow_etag[0]), (3, etags[3])])
    assert _read(local) == parts[0] + slow_bytes + parts[2]


def test_a_part_larger_than_the_slot_gets_a_file_of_its_own(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(1000), os.urandom(5000), os.urandom(500)]
    upload = local.create_multipart(ADDRESS)
    first = local.upload_part(ADDRESS, upload, 1, [parts[0]])
    # Sent in chunks: the first fit the 1000-byte slot before the part outgrows it.
    second = local.upload_part(
        ADDRESS, upload, 2, [parts[1][i : i + 400] for i in range(0, 5000, 400)]
    )
    third = local.upload_part(ADDRESS, upload, 3, [parts[2]])
    assert second.md5 == hashlib.md5(parts[1]).hexdigest()
    local.complete_multipart(ADDRESS, upload, [(1, first.md5), (2, second.md5), (3, third.md5)])
    assert _read(local) == b"".join(parts)
    assert sum(copied) == sum(map(len, parts))


def test_large_parts_sent_before_the_slot_size_is_known_are_copied_into_their_slots(
    local: LocalBlockStore, copied: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "BUFFER_LIMIT", 3000)
    parts = [os.urandom(4000), os.urandom(4000), os.urandom(10)]
    upload = local.create_multipart(ADDRESS)
    listed = _upload(local, upload, parts)  # part 1 is held too long: a file of its own
    local.complete_multipart(ADDRESS, upload, listed)
    assert copied == [4000]  # only part 1, into its slot
    assert _read(local) == b"".join(parts)


def test_a_part_still_being_written_makes_completion_compose_by_copy(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(2048) for _ in range(3)]
    upload = local.create_multipart(ADDRESS)
    listed = _upload(local, upload, parts)
    (local.root / UPLOADS_DIR / upload / "00004.lock").touch()  # a writer of part 4
    local.complete_multipart(ADDRESS, upload, listed)
    assert sum(copied) == sum(map(len, parts))
    assert _read(local) == b"".join(parts)


def test_a_refused_completion_leaves_the_upload_usable(
    local: LocalBlockStore, copied: list[int]
) -> None:
    parts = [os.urandom(2048), os.urandom(100)]
    upload = local.create_multipart(ADDRESS)
    first = local.upload_part(ADDRESS, upload, 1, [parts[0]])
    with pytest.raises(InvalidValue):
        local.complete_multipart(ADDRESS, upload, [(1, first.md5), (2, "0" * 32)])
    second = local.upload_part(ADDRESS, upload, 2, [parts[1]])
    local.complete_multipart(ADDRESS, upload, [(1, first.md5), (2, second.md5)])
    assert copied == []
    assert _read(local) == b"".join(parts)


def test_a_slot_cut_short_by_a_crash_is_refused_on_completion(local: LocalBlockStore) -> None:
    upload = local.create_multipart(ADDRESS)
    listed = _upload(local, upload, [b"x" * 100, b"y" * 100])
    # Parts are not fsynced: after a power loss the assembly file may be shorter.
    os.truncate(local.root / UPLOADS_DIR / upload / module.ASSEMBLY, 150)
    with pytest.raises(InvalidValue, match="part 2 is incomplete"):
        local.complete_multipart(ADDRESS, upload, listed)
    assert not local.exists(ADDRESS)


def test_aborting_removes_the_assembly_file(local: LocalBlockStore) -> None:
    upload = local.create_multipart(ADDRESS)
    _upload(local, upload, [b"a" * 100, b"b" * 100])
    assert (local.root / UPLOADS_DIR / upload / module.ASSEMBLY).exists()
    local.abort_multipart(ADDRESS, upload)
    assert not (local.root / UPLOADS_DIR / upload).exists()
    assert not local.exists(ADDRESS)


@pytest.mark.parametrize(
    "parts",
    [[b""], [b"x" * 100, b"y" * 100, b""], [b"", b"data"]],
    ids=["one empty part", "an empty last part", "an empty first part"],
)
def test_empty_parts_complete_like_any_other(local: LocalBlockStore, parts: list[bytes]) -> None:
    upload = local.create_multipart(ADDRESS)
    result = local.complete_multipart(ADDRESS, upload, _upload(local, upload, parts))
    assert _read(local) == b"".join(parts)
    assert (result.size, result.md5) == (sum(map(len, parts)), _etag(parts))


def test_a_part_whose_upload_is_aborted_meanwhile_is_not_found(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = local.create_multipart(ADDRESS)
    real_slot_size = module._slot_size

    def aborted_first(directory: Path) -> int | None:
        local.abort_multipart(ADDRESS, upload)
        return real_slot_size(directory)

    monkeypatch.setattr(module, "_slot_size", aborted_first)
    with pytest.raises(NotFound):
        local.upload_part(ADDRESS, upload, 1, [b"late"])
    assert not (local.root / UPLOADS_DIR / upload).exists()


@pytest.mark.parametrize(
    ("slot", "limit"),
    [(None, 10), (40, module.BUFFER_LIMIT), (30, module.BUFFER_LIMIT)],
    ids=["in a file of its own", "in its slot", "outgrowing its slot"],
)
def test_an_upload_aborted_while_a_part_streams_in_stays_gone(
    local: LocalBlockStore, monkeypatch: pytest.MonkeyPatch, slot: int | None, limit: int
) -> None:
    monkeypatch.setattr(module, "BUFFER_LIMIT", limit)
    upload = local.create_multipart(ADDRESS)
    if slot is not None:
        local.upload_part(ADDRESS, upload, 1, [b"s" * slot])

    def aborted_midway() -> Iterator[bytes]:
        yield b"a" * 20
        local.abort_multipart(ADDRESS, upload)
        yield b"b" * 20

    with pytest.raises(NotFound):
        local.upload_part(ADDRESS, upload, 2, aborted_midway())
    assert not (local.root / UPLOADS_DIR / upload).exists()
