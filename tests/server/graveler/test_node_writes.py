"""A commit names only tree nodes that are stored: its nodes go into one pack, written
durably before the index rows that locate them, both before the commit returns."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.entries import encode_entry
from lakever_server.graveler import graveler as graveler_module
from lakever_server.graveler.tree import BlockNodeStore, NodeCache, PackedNodeStore
from lakever_server.graveler.tree.codec import Node, encode, node_id
from lakever_server.storage.block.base import PutResult
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.block.s3 import S3BlockStore
from lakever_server.storage.kv.memory import MemoryKV
from tests.support.s3 import S3Bucket, s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # pytest fixtures


class FlakyNodeStorage(MemoryBlockStore):
    """Blobs in memory; pack writes fail while ``failing`` is set."""

    failing = False

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        if self.failing and "/_lakever/packs/" in address:
            raise OSError("disk full")
        return super().put(address, chunks)


class FlakyIndex(MemoryKV):
    """Metadata in memory; node index writes fail while ``failing`` is set."""

    failing = False

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        if self.failing and partition.startswith("graveler/nodeindex/"):
            raise OSError("metadata store unavailable")
        super().write_batch(partition, sets, deletes)


@pytest.fixture
def flaky() -> tuple[Catalog, FlakyIndex, FlakyNodeStorage]:
    kv, block = FlakyIndex(), FlakyNodeStorage()
    catalog = Catalog(kv, block)
    catalog.create_repository("repo1", "mem://lake/repo1")
    return catalog, kv, block


@pytest.mark.parametrize("failing", ["pack", "index"])
def test_a_commit_whose_tree_nodes_fail_to_store_changes_nothing(
    flaky: tuple[Catalog, FlakyIndex, FlakyNodeStorage], failing: str
) -> None:
    catalog, kv, block = flaky
    stage_copies(catalog, [f"k/{i:04}" for i in range(200)], b"1")
    head = catalog.get_branch("repo1", "main").commit_id
    broken: Any = block if failing == "pack" else kv
    broken.failing = True
    with pytest.raises(OSError, match=r"disk full|unavailable"):
        catalog.commit("repo1", "main", "m", "me")
    assert catalog.get_branch("repo1", "main").commit_id == head
    broken.failing = False
    commit = catalog.commit("repo1", "main", "m", "me")
    assert catalog.verify("repo1") == []  # fsck reads past the cache
    cold = Catalog(kv, block)  # no cache: reads only what is stored
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 200
    assert cold.verify("repo1") == []


class RecordingDisk(LocalBlockStore):
    """The local disk store, recording every blob written."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.written: list[str] = []
        self.syncs = 0

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        self.written.append(address)
        return super().put(address, chunks)

    def put_unsynced(self, address: str, data: bytes) -> None:
        self.written.append(address)
        super().put_unsynced(address, data)

    def put_undigested(self, address: str, data: bytes) -> None:
        self.written.append(address)
        super().put_undigested(address, data)

    def sync(self, addresses: Sequence[str]) -> None:
        self.syncs += 1
        super().sync(addresses)


def stage_copies(catalog: Catalog, paths: list[str], content: bytes) -> None:
    """Stage ``paths`` all naming one stored object (fast: one blob written)."""
    entry = catalog.write_object("repo1", "main", paths[0], [content])
    staged = [(p.encode(), encode_entry(replace(entry, path=p))) for p in sorted(paths)]
    catalog.graveler.set_many("repo1", "main", staged)


def test_a_commit_writes_its_nodes_as_one_durable_pack(tmp_path: Path) -> None:
    block = RecordingDisk(tmp_path / "blocks")
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "local://lake/repo1")
    stage_copies(catalog, [f"k/{i:05}" for i in range(5_000)], b"1")
    catalog.commit("repo1", "main", "m", "me")
    # 100 changes scattered over the keyspace
    stage_copies(catalog, [f"k/{i:05}" for i in range(0, 5_000, 50)], b"2")
    block.written.clear()
    commit = catalog.commit("repo1", "main", "m", "me")
    packs = [a for a in block.written if "/_lakever/packs/" in a]
    assert len(packs) == 1
    assert not [a for a in block.written if "/_lakever/nodes/" in a]
    assert block.syncs == 0  # the pack's put is durable by itself: no file-system-wide sync
    tree = catalog.graveler.tree_for("local://lake/repo1")
    assert isinstance(tree.store, PackedNodeStore)
    root = catalog.graveler.open("repo1").root_of(commit.id)
    located = [tree.store.locate(nid, cached=False) for nid in tree.walk_nodes(root)]
    assert None not in located
    new_root = tree.store.locate(root, cached=False)
    assert new_root is not None
    assert packs[0] == tree.store.pack_address(new_root.pack_id)
    cold = Catalog(catalog.kv, LocalBlockStore(tmp_path / "blocks"))
    assert cold.verify("repo1") == []
    listed = cold.list_entries("repo1", commit.id, prefix="k/", amount=1000).results
    assert len(listed) == 1000


def test_every_node_of_a_commit_is_found_by_a_fresh_process(tmp_path: Path) -> None:
    block = LocalBlockStore(tmp_path / "blocks")
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "local://lake/repo1")
    stage_copies(catalog, [f"k/{i:04}" for i in range(300)], b"1")
    commit = catalog.commit("repo1", "main", "m", "me")
    cold = Catalog(catalog.kv, LocalBlockStore(tmp_path / "blocks"))
    assert cold.verify("repo1") == []
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 300


def test_a_node_another_thread_saved_but_has_not_flushed_goes_into_our_pack() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    store = PackedNodeStore(block, kv, "mem://lake/repo1", NodeCache())
    node = Node.leaf([b"k"], [b"v"])
    data = encode(node)
    nid = node_id(data)
    writer = threading.Thread(target=store.save_node, args=(nid, node, data))
    writer.start()
    writer.join()  # saved and cached by that thread, never flushed
    store.flush(store.save_node(nid, node, data))  # indexed as a root: found by its id
    fresh = PackedNodeStore(block, kv, "mem://lake/repo1", NodeCache())
    assert fresh.get(nid) == data
    assert store.packs_written == 1


def test_repositories_written_one_blob_per_node_stay_readable_and_take_new_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kv = MemoryKV()
    blocks = tmp_path / "blocks"

    def earlier_layout(block: Any, _kv: Any, namespace: str, cache: NodeCache) -> BlockNodeStore:
        return BlockNodeStore(block, namespace, cache)

    with monkeypatch.context() as patch:
        patch.setattr(graveler_module, "PackedNodeStore", earlier_layout)
        old = Catalog(kv, LocalBlockStore(blocks))
        old.create_repository("repo1", "local://lake/repo1")
        stage_copies(old, [f"k/{i:04}" for i in range(400)], b"old")
        first = old.commit("repo1", "main", "by an earlier version", "me")
    assert not list(LocalBlockStore(blocks).list_prefix("local://lake/repo1/_lakever/packs/"))

    catalog = Catalog(kv, LocalBlockStore(blocks))  # this version: packs
    assert catalog.verify("repo1") == []
    assert len(catalog.list_entries("repo1", first.id, amount=1000).results) == 400
    catalog.write_object("repo1", "main", "k/0007", [b"new"])
    catalog.write_object("repo1", "main", "k/9999", [b"new"])
    second = catalog.commit("repo1", "main", "by this version", "me")
    assert list(LocalBlockStore(blocks).list_prefix("local://lake/repo1/_lakever/packs/"))
    cold = Catalog(kv, LocalBlockStore(blocks))
    assert cold.verify("repo1") == []
    diff = cold.diff_refs("repo1", first.id, second.id)
    assert sorted(d.path for d in diff.results) == ["k/0007", "k/9999"]


def test_fsck_finds_a_lost_pack_even_while_its_nodes_are_cached(tmp_path: Path) -> None:
    block = LocalBlockStore(tmp_path / "blocks")
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "local://lake/repo1")
    stage_copies(catalog, [f"k/{i:04}" for i in range(100)], b"1")
    catalog.commit("repo1", "main", "m", "me")
    assert catalog.verify("repo1") == []
    packs = list(block.list_prefix("local://lake/repo1/_lakever/packs/"))
    for pack in packs:
        block.delete(pack.address)
    problems = catalog.verify("repo1")
    assert problems
    assert any("pack" in p and "missing" in p for p in problems)


def test_fsck_finds_a_pack_whose_bytes_were_altered(tmp_path: Path) -> None:
    block = LocalBlockStore(tmp_path / "blocks")
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "local://lake/repo1")
    stage_copies(catalog, [f"k/{i:04}" for i in range(100)], b"1")
    catalog.commit("repo1", "main", "m", "me")
    for pack in list(block.list_prefix("local://lake/repo1/_lakever/packs/")):
        data = bytearray(b"".join(block.get(pack.address)))
        data[-1] ^= 0xFF
        block.delete(pack.address)
        block.put(pack.address, [bytes(data)])
    problems = catalog.verify("repo1")
    assert any("does not match its hash" in p for p in problems)


def test_packs_on_s3_are_written_once_per_commit_and_read_back_in_parallel_spans(
    s3_bucket: S3Bucket,
) -> None:
    blocks = S3BlockStore(**s3_bucket.server.options())
    namespace = f"{s3_bucket.uri}/repo1"
    catalog = Catalog(MemoryKV(), blocks)
    catalog.create_repository("repo1", namespace)
    stage_copies(catalog, [f"k/{i:05}" for i in range(2_000)], b"1")
    catalog.commit("repo1", "main", "m", "me")
    stage_copies(catalog, [f"k/{i:05}" for i in range(0, 2_000, 20)], b"2")
    commit = catalog.commit("repo1", "main", "m", "me")
    packs = list(blocks.list_prefix(f"{namespace}/_lakever/packs/"))
    assert len(packs) == 2
    assert not list(blocks.list_prefix(f"{namespace}/_lakever/nodes/"))
    cold = Catalog(catalog.kv, S3BlockStore(**s3_bucket.server.options()))
    store = cold.graveler.tree_for(namespace).store
    assert isinstance(store, PackedNodeStore)
    assert store.read_concurrency > 1  # remote: spans are read in parallel
    stage_copies(cold, [f"k/{i:05}" for i in range(10, 2_000, 20)], b"3")
    cold.commit("repo1", "main", "m", "me")  # misses everywhere: prefetched
    # Tree-level fsck (the catalog's would also HEAD each of the 2,000 objects).
    assert cold.graveler.verify("repo1") == []
    assert len(cold.list_entries("repo1", commit.id, prefix="k/", amount=1000).results) == 1000
