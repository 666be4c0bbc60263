"""Node stores: block-store round trips, the shared decoded-node cache, reachability walks."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

import pytest

from lakever_server.errors import NotFound
from lakever_server.graveler.tree import (
    BlockNodeStore,
    Change,
    CorruptNode,
    MemoryNodeStore,
    NodeCache,
    Tree,
)
from lakever_server.graveler.tree.codec import Node, decode, encode, node_id
from lakever_server.storage.block.memory import MemoryBlockStore

from .trees import CountingNodeStore, lake_items


def local_block_store_class() -> Any | None:
    """The local-disk block store class, when the storage layer provides one."""
    try:
        return importlib.import_module("lakever_server.storage.block.local").LocalBlockStore
    except (ImportError, AttributeError):
        return None


LOCAL_BLOCK_STORE = local_block_store_class()
BLOCK_STORES = [pytest.param("memory", id="memory block store")]
if LOCAL_BLOCK_STORE is not None:
    BLOCK_STORES.append(pytest.param("local", id="local disk block store"))


@pytest.mark.parametrize("kind", BLOCK_STORES)
def test_a_tree_round_trips_through_the_block_store(kind: str, tmp_path: Path) -> None:
    block: Any = MemoryBlockStore() if kind == "memory" else LOCAL_BLOCK_STORE(tmp_path)
    namespace = f"{'mem' if kind == 'memory' else 'local'}://repo-1"
    items = lake_items(5_000)
    root = Tree(BlockNodeStore(block, namespace, NodeCache())).build(items)
    # A fresh cache forces every node back from the block store.
    reader = Tree(BlockNodeStore(block, namespace, NodeCache()))
    assert list(reader.iterate(root)) == items
    for nid in reader.walk_nodes(root):
        data = b"".join(block.get(f"{namespace}/_lakever/nodes/{nid[:2]}/{nid}"))
        assert node_id(data) == nid


def test_nodes_are_stored_under_the_namespace_by_id_prefix() -> None:
    block = MemoryBlockStore()
    store = BlockNodeStore(block, "mem://bucket/repo/", NodeCache())
    root = Tree(store).build([(b"k", b"v")])
    assert store.address(root) == f"mem://bucket/repo/_lakever/nodes/{root[:2]}/{root}"
    assert block.exists(store.address(root))
    assert decode(store.get(root)).keys == [b"k"]


def test_a_missing_node_is_not_found() -> None:
    store = BlockNodeStore(MemoryBlockStore(), "mem://repo", NodeCache())
    with pytest.raises(NotFound) as raised:
        Tree(store).get("ab" * 32, b"k")
    assert raised.value.kind == "node"


def test_a_tampered_block_is_refused_as_corrupt() -> None:
    block = MemoryBlockStore()
    root = Tree(BlockNodeStore(block, "mem://repo", NodeCache())).build([(b"k", b"v")])
    address = BlockNodeStore(block, "mem://repo", NodeCache()).address(root)
    block.put(address, [b"\x01\x00garbage"])
    with pytest.raises(CorruptNode):
        Tree(BlockNodeStore(block, "mem://repo", NodeCache())).get(root, b"k")


def test_the_cache_counts_hits_and_misses() -> None:
    block = MemoryBlockStore()
    root = Tree(BlockNodeStore(block, "mem://repo", NodeCache())).build(lake_items(20_000))
    cache = NodeCache()
    tree = Tree(BlockNodeStore(block, "mem://repo", cache))
    key = lake_items(20_000)[12_345][0]
    assert tree.get(root, key) is not None
    levels = cache.misses
    assert cache.hits == 0
    assert levels >= 2
    assert tree.get(root, key) is not None
    assert (cache.hits, cache.misses) == (levels, levels)


def test_writing_a_cached_node_skips_the_block_store() -> None:
    class CountingBlocks(MemoryBlockStore):
        puts = 0

        def put(self, address: str, chunks: Any) -> Any:
            CountingBlocks.puts += 1
            return super().put(address, chunks)

    block = CountingBlocks()
    store = BlockNodeStore(block, "mem://repo", NodeCache())
    tree = Tree(store)
    items = lake_items(3_000)
    tree.build(items)
    first = CountingBlocks.puts
    tree.build(items)
    assert first > 1
    assert CountingBlocks.puts == first  # same content, same ids, already stored


def test_a_shared_cache_still_stores_nodes_in_each_namespace() -> None:
    block = MemoryBlockStore()
    cache = NodeCache()
    root = Tree(BlockNodeStore(block, "mem://repo-a", cache)).build([(b"k", b"v")])
    assert Tree(BlockNodeStore(block, "mem://repo-b", cache)).build([(b"k", b"v")]) == root
    assert block.exists(f"mem://repo-b/_lakever/nodes/{root[:2]}/{root}")


def test_the_cache_evicts_least_recently_used_nodes_to_stay_within_its_bound() -> None:
    block = MemoryBlockStore()
    root = Tree(BlockNodeStore(block, "mem://repo", NodeCache())).build(lake_items(20_000))
    cache = NodeCache(max_bytes=200_000)
    tree = Tree(BlockNodeStore(block, "mem://repo", cache))
    assert len(list(tree.iterate(root))) == 20_000
    assert cache.size_bytes <= 200_000
    assert cache.evictions > 0
    assert 0 < len(cache) < 300


def test_walk_nodes_yields_every_stored_node_once() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    root = tree.build(lake_items(50_000))
    walked = list(tree.walk_nodes(root))
    assert walked[0] == root
    assert len(walked) == len(set(walked))
    assert set(walked) == set(store.nodes)
    leaves = [decode(store.nodes[nid]) for nid in walked]
    assert sum(len(leaf.keys) for leaf in leaves if leaf.level == 0) == 50_000


def test_encoded_nodes_are_named_by_their_hash() -> None:
    store = CountingNodeStore()
    Tree(store).build(lake_items(2_000))
    for nid, data in store.nodes.items():
        assert node_id(data) == nid
        assert encode(decode(data)) == data


def test_parallel_node_writes_are_stored_before_the_root_is_returned() -> None:
    block = MemoryBlockStore()
    store = BlockNodeStore(block, "mem://repo", NodeCache(), write_concurrency=4)
    tree = Tree(store)
    root = tree.build(lake_items(20_000))
    root = tree.apply(root, [(b"data/zz/%03d" % i, b"v") for i in range(300)])
    walked = list(tree.walk_nodes(root))
    assert len(walked) > 300 // 64
    assert all(block.exists(store.address(nid)) for nid in walked)


def test_a_failed_node_write_fails_the_build_and_a_retry_stores_everything() -> None:
    class FailingOnce(MemoryBlockStore):
        failed = False

        def put(self, address: str, chunks: Any) -> Any:
            if not FailingOnce.failed:
                FailingOnce.failed = True
                raise OSError("disk full")
            return super().put(address, chunks)

    block = FailingOnce()
    cache = NodeCache()
    items = lake_items(5_000)
    for concurrency in (1, 4):
        FailingOnce.failed = False
        namespace = f"mem://repo-{concurrency}"
        store = BlockNodeStore(block, namespace, cache, write_concurrency=concurrency)
        with pytest.raises(OSError, match="disk full"):
            Tree(store).build(items)
        root = Tree(store).build(items)
        reader = Tree(BlockNodeStore(block, namespace, NodeCache()))
        assert list(reader.iterate(root)) == items


def test_the_empty_tree_is_readable_from_a_store_that_never_stored_it() -> None:
    block = MemoryBlockStore()
    tree = Tree(BlockNodeStore(block, "mem://fresh", NodeCache()))
    assert list(tree.iterate(Tree.EMPTY)) == []
    assert tree.count(Tree.EMPTY) == 0
    assert list(tree.diff(Tree.EMPTY, tree.build([]))) == []
    root = tree.apply(Tree.EMPTY, [(b"first", b"object")])
    assert list(tree.diff(Tree.EMPTY, root)) == [Change(b"first", None, b"object")]
    assert list(block.list_prefix("mem://fresh/")) == [
        block.stat(f"mem://fresh/_lakever/nodes/{root[:2]}/{root}")
    ]


def test_threads_sharing_a_store_each_get_their_own_complete_trees() -> None:
    block = MemoryBlockStore()
    store = BlockNodeStore(
        block, "mem://shared", NodeCache(max_bytes=2_000_000), write_concurrency=4
    )
    base_items = lake_items(10_000)
    base = Tree(store).build(base_items)
    batches = [
        [(b"data/thread-%d/%04d" % (t, i), b"v%d" % t) for i in range(500)] for t in range(4)
    ]
    roots: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            roots[t] = Tree(store).apply(base, batches[t])
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reader = Tree(BlockNodeStore(block, "mem://shared", NodeCache()))
    for t, batch in enumerate(batches):
        assert roots[t] == Tree(MemoryNodeStore()).build(sorted(base_items + batch))
        assert list(reader.iterate(roots[t], b"data/thread-")) == batch


class _FailingNodeBlocks(MemoryBlockStore):
    """A durable-looking store (so puts run in parallel) whose puts fail while set."""

    schemes = ("disk",)
    failing = True

    def put(self, address: str, chunks: Any) -> Any:
        if self.failing:
            raise OSError("disk full")
        return super().put(address, chunks)


class _RacingCache(NodeCache):
    """Runs ``race`` (once) in another thread just as a failed node is uncached."""

    race: Any = None

    def discard(self, key: str) -> None:
        race, self.race = self.race, None
        if race is not None:
            racer = threading.Thread(target=race)
            racer.start()
            racer.join()
        super().discard(key)


def test_a_save_racing_with_a_failed_write_never_skips_the_unstored_node() -> None:
    block = _FailingNodeBlocks()
    cache = _RacingCache()
    store = BlockNodeStore(block, "disk://repo", cache, write_concurrency=4)
    node = Node.leaf([b"k"], [b"v"])
    data = encode(node)
    nid = node_id(data)
    store.save_node(nid, node, data)  # handed to the pool; it will fail
    outcomes: list[str] = []

    def race() -> None:
        block.failing = False  # a write of its own would now succeed
        try:
            store.save_node(nid, node, data)
            store.flush()
            outcomes.append("saved")
        except OSError:
            outcomes.append("failed")

    cache.race = race
    with pytest.raises(OSError, match="disk full"):
        store.flush()
    assert outcomes in (["failed"], ["saved"])
    if outcomes == ["saved"]:
        assert block.exists(store.address(nid))


def test_a_write_demotes_the_nodes_it_replaced_so_they_are_evicted_first() -> None:
    block = MemoryBlockStore()
    cache = NodeCache()
    store = BlockNodeStore(block, "mem://repo", cache)
    tree = Tree(store)
    items = lake_items(20_000)
    root = tree.build(items)
    old = set(tree.walk_nodes(root))
    levels = tree.height(root) + 1
    new_root = tree.apply(root, [(items[7_777][0], b"changed")])
    new = set(tree.walk_nodes(new_root))  # read last: the most recently used
    superseded = old - new
    assert len(superseded) == levels  # one node per level, the root included
    assert cache.demotions == len(superseded)
    for step in range(1, len(superseded) + 1):
        # One eviction: the cache is squeezed by one byte and takes a one-byte entry.
        cache.max_bytes = cache.size_bytes - 1
        cache.add(f"mem://elsewhere/{step}", Node.leaf([b"k"], [b"v"]), 1)
        evicted = {nid for nid in old | new if store.address(nid) not in cache}
        assert len(evicted) == step
        assert evicted <= superseded
