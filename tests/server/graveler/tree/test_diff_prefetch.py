"""A diff on a store that loads nodes in batches reads each level in a few batches, and
never a subtree the two trees share."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from lakever_server.graveler.tree import Node, NodeCache, PackedNodeStore, Tree
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.kv.sqlite import SQLiteKV

from .trees import dict_diff, lake_items, object_key

NAMESPACE = "local://lake/repo-1"


class CountingBlocks(LocalBlockStore):
    """Local disk, counting every read."""

    reads = 0

    def get(self, address: str, start: int = 0, end: int | None = None) -> Any:
        self.reads += 1
        return super().get(address, start, end)


class CountingKV(SQLiteKV):
    """SQLite, counting every lookup (single or batched): each is a round trip."""

    lookups = 0

    def get(self, partition: str, key: bytes) -> bytes | None:
        self.lookups += 1
        return super().get(partition, key)

    def get_many(self, partition: str, keys: Any) -> dict[bytes, bytes]:
        self.lookups += 1
        return super().get_many(partition, keys)


class OneByOne:
    """The same store without ``prefetch``: the diff then reads node by node."""

    def __init__(self, store: PackedNodeStore) -> None:
        self._store = store

    def get(self, node_id: str) -> bytes:
        return self._store.get(node_id)

    def put(self, node_id: str, data: bytes) -> None:
        self._store.put(node_id, data)

    def load_node(self, node_id: str) -> Node:
        return self._store.load_node(node_id)

    def save_node(self, node_id: str, node: Node, data: bytes) -> None:
        self._store.save_node(node_id, node, data)

    def flush(self) -> None:
        self._store.flush()


@pytest.fixture
def stores(tmp_path: Path) -> Any:
    kv = CountingKV(tmp_path / "meta.db")
    yield kv, CountingBlocks(tmp_path / "blocks")
    kv.close()


def cached_ids(store: PackedNodeStore, ids: set[str]) -> set[str]:
    return {nid for nid in ids if store.blob_address(nid) in store.cache}


CHANGES = {
    "one new partition": lambda items: [(object_key(99_999, i), b"new") for i in range(100)],
    "scattered": lambda items: [(key, b"changed") for key, _ in items[::1_000]],
    "scattered with deletes": lambda items: [
        (key, None if i % 2 else b"changed") for i, (key, _) in enumerate(items[::1_000])
    ],
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_cold_diff_of_two_large_trees_reads_few_batches_and_no_shared_node(
    stores: Any, kind: str
) -> None:
    kv, block = stores
    items = lake_items(100_000)
    writer = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    left_root = writer.build(items)
    changes = sorted(CHANGES[kind](items))
    right_root = writer.apply(left_root, changes)
    left_nodes = set(writer.walk_nodes(left_root))
    right_nodes = set(writer.walk_nodes(right_root))
    shared = left_nodes & right_nodes
    left, right = dict(items), dict(items)
    for key, value in changes:
        if value is None:
            right.pop(key, None)
        else:
            right[key] = value
    expected = dict_diff(left, right)

    def cold_diff(batched: bool) -> tuple[int, int, set[str]]:
        store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
        tree = Tree(store if batched else OneByOne(store))
        kv.lookups = block.reads = 0
        found = [(c.key, c.left, c.right) for c in tree.diff(left_root, right_root)]
        assert found == expected
        return kv.lookups, block.reads, cached_ids(store, left_nodes | right_nodes)

    lookups, reads, read_nodes = cold_diff(batched=True)
    one_lookups, one_reads, one_read_nodes = cold_diff(batched=False)
    assert not read_nodes & shared  # equal subtrees stay unread
    assert read_nodes == one_read_nodes  # only nodes the walk needs
    height = writer.height(left_root)
    # One lookup per level for the roots' window (the changes fit in one), and a few
    # node reads per level: a span of nearby nodes in a pack is one read.
    assert lookups <= 2 * (height + 2), (lookups, one_lookups)
    assert one_lookups >= len(one_read_nodes)
    assert reads < one_reads


def test_a_diff_of_trees_with_nothing_in_common_streams_in_windows(stores: Any) -> None:
    kv, block = stores
    rnd = random.Random(3)
    writer = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    items = lake_items(60_000)
    left_root = writer.build(items)
    right_items = [(key, value + b"!") for key, value in items if rnd.random() < 0.9]
    right_root = writer.build(right_items)
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    tree = Tree(store)
    kv.lookups = 0
    found = list(tree.diff(left_root, right_root))
    assert len(found) == len(items)
    nodes = len(set(writer.walk_nodes(left_root)) | set(writer.walk_nodes(right_root)))
    # Every node is read, in batches of up to 256 per level: far fewer round trips.
    assert kv.lookups * 20 < nodes, (kv.lookups, nodes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_windowed_diff_with_bounds_matches_the_unbatched_one(stores: Any, seed: int) -> None:
    kv, block = stores
    rnd = random.Random(seed)
    items = lake_items(30_000)
    writer = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    left_root = writer.build(items)
    picked = sorted(rnd.sample(range(len(items)), 400))
    changes = [(items[i][0], None if rnd.random() < 0.3 else b"v") for i in picked]
    right_root = writer.apply(left_root, changes)
    lo, hi = sorted(rnd.sample([key for key, _ in items], 2))
    for start, end in ((b"", None), (lo, None), (b"", hi), (lo, hi)):
        batched = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
        plain = Tree(OneByOne(PackedNodeStore(block, kv, NAMESPACE, NodeCache())))
        assert list(batched.diff(left_root, right_root, start, end)) == list(
            plain.diff(left_root, right_root, start, end)
        )
