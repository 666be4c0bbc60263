"""The ``BlockStore`` contract: one suite of behaviours, run against every implementation.

Memory, local disk (a temporary root) and S3 (a fresh bucket on a moto server running as
its own process) must all pass every test here.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block import BlockStore
from lakever_server.storage.block.base import CHUNK_SIZE
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.block.s3 import S3BlockStore
from tests.support.s3 import S3Bucket

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3's smallest part except the last
LIST_PAGE = 100  # blobs per S3 listing request in these tests


@dataclass
class Store:
    """A block store and the namespace (address prefix) a test writes under."""

    blocks: BlockStore
    base: str

    def at(self, key: str) -> str:
        return f"{self.base}/{key}"


@pytest.fixture(params=["memory", "local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty store of each kind."""
    if request.param == "memory":
        return Store(MemoryBlockStore(), "mem://ns")
    if request.param == "local":
        return Store(LocalBlockStore(tmp_path / "blocks"), "local://ns")
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    # Small listing pages, so a few hundred blobs exercise pagination.
    blocks = S3BlockStore(**bucket.server.options(), list_page_size=LIST_PAGE)
    return Store(blocks, f"{bucket.uri}/ns")


def _read(store: Store, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.blocks.get(store.at(key), start, end))


def _chunked(data: bytes, size: int) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


# -- put, get, ranges -----------------------------------------------------------------------


def test_put_then_get_returns_the_content_with_its_size_and_md5(store: Store) -> None:
    data = b"hello, lake\n" * 1000
    result = store.blocks.put(store.at("data/a"), _chunked(data, 777))
    assert result.size == len(data)
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert _read(store, "data/a") == data


def test_an_empty_blob_is_stored_and_read_back(store: Store) -> None:
    result = store.blocks.put(store.at("empty"), [])
    assert (result.size, result.md5) == (0, hashlib.md5(b"").hexdigest())
    assert _read(store, "empty") == b""
    assert store.blocks.stat(store.at("empty")).size == 0


def test_a_large_blob_streams_back_in_bounded_chunks(store: Store) -> None:
    data = os.urandom(17 * MIB + 123)  # spans several upload parts on S3
    result = store.blocks.put(store.at("big"), _chunked(data, 256 * 1024))
    assert (result.size, result.md5) == (len(data), hashlib.md5(data).hexdigest())
    chunks = list(store.blocks.get(store.at("big")))
    assert max(len(c) for c in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == data


def test_put_replaces_the_whole_blob(store: Store) -> None:
    store.blocks.put(store.at("k"), [b"a much longer first version"])
    store.blocks.put(store.at("k"), [b"short"])
    assert _read(store, "k") == b"short"


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 1), (0, None), (10, 20), (4095, None), (1000, 5000), (0, 10_000), (4096, None)],
    ids=[
        "first byte",
        "whole",
        "middle",
        "last byte",
        "past the end",
        "end beyond size",
        "start at size",
    ],
)
def test_get_returns_exactly_the_requested_range(store: Store, start: int, end: int | None) -> None:
    data = bytes(range(256)) * 16  # 4096 bytes
    store.blocks.put(store.at("r"), [data])
    assert _read(store, "r", start, end) == data[start:end]


def test_a_range_across_chunk_boundaries_is_exact(store: Store) -> None:
    data = os.urandom(3 * MIB)
    store.blocks.put(store.at("r"), _chunked(data, MIB))
    start, end = MIB - 5, 2 * MIB + 7
    assert _read(store, "r", start, end) == data[start:end]


# -- stat, exists, delete, missing ----------------------------------------------------------


def test_stat_reports_size_and_a_recent_mtime(store: Store) -> None:
    before = time.time()
    store.blocks.put(store.at("s"), [b"12345"])
    stat = store.blocks.stat(store.at("s"))
    assert (stat.address, stat.size) == (store.at("s"), 5)
    assert before - 5 <= stat.mtime <= time.time() + 5


def test_exists_and_delete(store: Store) -> None:
    store.blocks.put(store.at("d"), [b"x"])
    assert store.blocks.exists(store.at("d"))
    store.blocks.delete(store.at("d"))
    assert not store.blocks.exists(store.at("d"))
    store.blocks.delete(store.at("d"))  # deleting again is fine


def test_a_missing_blob_is_not_found(store: Store) -> None:
    missing = store.at("no/such/blob")
    assert not store.blocks.exists(missing)
    with pytest.raises(NotFound):
        list(store.blocks.get(missing))
    with pytest.raises(NotFound):
        list(store.blocks.get(missing, 1, 2))
    with pytest.raises(NotFound):
        store.blocks.stat(missing)


# -- listing --------------------------------------------------------------------------------


def test_list_prefix_yields_every_blob_under_it_in_address_order(store: Store) -> None:
    keys = ["a/x", "a-b", "a/y/z", "a0", "b", "a/y-1", "\u00e9t\u00e9", "a/\u20ac"]
    for key in keys:
        store.blocks.put(store.at(key), [key.encode()])
    listed = [s.address for s in store.blocks.list_prefix(f"{store.base}/")]
    assert listed == sorted(store.at(k) for k in keys)
    under_a = [s.address for s in store.blocks.list_prefix(store.at("a/"))]
    assert under_a == sorted(store.at(k) for k in keys if k.startswith("a/"))


def test_list_prefix_matches_partial_names_and_reports_sizes(store: Store) -> None:
    for key, size in [("logs/2024-01", 1), ("logs/2024-02", 22), ("logs/2025-01", 333)]:
        store.blocks.put(store.at(key), [b"x" * size])
    listed = [(s.address, s.size) for s in store.blocks.list_prefix(store.at("logs/2024"))]
    assert listed == [(store.at("logs/2024-01"), 1), (store.at("logs/2024-02"), 22)]
    assert list(store.blocks.list_prefix(store.at("nothing-here/"))) == []


def test_list_prefix_pages_through_many_blobs(store: Store) -> None:
    keys = [f"many/{i:04d}" for i in range(int(LIST_PAGE * 2.5))]
    for key in keys:
        store.blocks.put(store.at(key), [b"."])
    assert [s.address for s in store.blocks.list_prefix(store.at("many/"))] == [
        store.at(k) for k in keys
    ]


# -- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../escape", "a/./b", "/abs/path", "a\x00b", "a\\..\\b", "a//b"],
    ids=["parent", "nested parent", "dot segment", "absolute", "NUL", "backslash", "empty segment"],
)
def test_addresses_that_could_escape_are_refused(store: Store, key: str) -> None:
    address = f"{store.base}/{key}"
    with pytest.raises(InvalidValue):
        store.blocks.put(address, [b"x"])
    with pytest.raises(InvalidValue):
        list(store.blocks.get(address))
    with pytest.raises(InvalidValue):
        store.blocks.stat(address)


# -- multipart ------------------------------------------------------------------------------


def test_multipart_composes_parts_in_order_with_an_s3_etag(store: Store) -> None:
    address = store.at("multi")
    first, second = os.urandom(MIN_PART + 1024), b"tail" * 100
    upload = store.blocks.create_multipart(address)
    part2 = store.blocks.upload_part(address, upload, 2, [second])  # any upload order
    part1 = store.blocks.upload_part(address, upload, 1, _chunked(first, MIB))
    assert part1.md5 == hashlib.md5(first).hexdigest()
    assert (part2.size, part2.md5) == (len(second), hashlib.md5(second).hexdigest())
    result = store.blocks.complete_multipart(address, upload, [(1, part1.md5), (2, part2.md5)])
    expected_etag = hashlib.md5(
        hashlib.md5(first).digest() + hashlib.md5(second).digest()
    ).hexdigest()
    assert (result.size, result.md5) == (len(first) + len(second), f"{expected_etag}-2")
    assert _read(store, "multi") == first + second


def test_multipart_accepts_quoted_etags(store: Store) -> None:
    address = store.at("quoted")
    upload = store.blocks.create_multipart(address)
    part = store.blocks.upload_part(address, upload, 1, [b"only part"])
    store.blocks.complete_multipart(address, upload, [(1, f'"{part.md5}"')])
    assert _read(store, "quoted") == b"only part"


def test_multipart_with_a_wrong_etag_is_refused(store: Store) -> None:
    address = store.at("wrong")
    upload = store.blocks.create_multipart(address)
    store.blocks.upload_part(address, upload, 1, [b"data"])
    with pytest.raises(InvalidValue):
        store.blocks.complete_multipart(address, upload, [(1, "0" * 32)])
    assert not store.blocks.exists(address)


def test_multipart_with_a_missing_part_is_refused(store: Store) -> None:
    address = store.at("gap")
    upload = store.blocks.create_multipart(address)
    part = store.blocks.upload_part(address, upload, 1, [b"data"])
    with pytest.raises(InvalidValue):
        store.blocks.complete_multipart(address, upload, [(1, part.md5), (2, part.md5)])


def test_an_aborted_or_unknown_upload_is_not_found(store: Store) -> None:
    address = store.at("aborted")
    upload = store.blocks.create_multipart(address)
    part = store.blocks.upload_part(address, upload, 1, [b"data"])
    store.blocks.abort_multipart(address, upload)
    with pytest.raises(NotFound):
        store.blocks.complete_multipart(address, upload, [(1, part.md5)])
    with pytest.raises(NotFound):
        store.blocks.upload_part(address, upload, 2, [b"more"])
    assert not store.blocks.exists(address)
