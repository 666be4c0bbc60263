"""Packed node storage: one blob per flush, nodes found through their parents' references
(an index row per root), reads past the cache."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.graveler.tree import (
    BlockNodeStore,
    CorruptNode,
    MemoryNodeStore,
    NodeCache,
    PackedNodeStore,
    Tree,
)
from lakever_server.graveler.tree.codec import is_located, ref_id
from lakever_server.graveler.tree.packs import (
    DEPENDS,
    PACK_MAGIC,
    Locator,
    decode_depends,
    unpack_nodes,
)
from lakever_server.storage.block.direct import DIRECT_AFTER
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.storage.kv.sqlite import SQLiteKV

from .trees import lake_items

NAMESPACE = "mem://lake/repo-1"


def packs_of(block: Any, namespace: str = NAMESPACE) -> list[str]:
    return [stat.address for stat in block.list_prefix(f"{namespace}/_lakever/packs/")]


def index_rows(kv: Any, namespace: str = NAMESPACE) -> dict[str, Locator]:
    """The node rows of the index (roots, and nodes of stores written before references
    were located), without the ``pack:`` rows."""
    partition = f"graveler/nodeindex/{namespace}"
    return {
        key.decode(): Locator.decode(value)
        for key, value in kv.scan(partition)
        if not key.startswith(DEPENDS)
    }


def depends_rows(kv: Any, namespace: str = NAMESPACE) -> dict[str, tuple[list[str], list[str]]]:
    partition = f"graveler/nodeindex/{namespace}"
    return {
        key[len(DEPENDS) :].decode(): decode_depends(value)
        for key, value in kv.scan(partition)
        if key.startswith(DEPENDS)
    }


def test_a_large_build_streams_into_several_bounded_packs(tmp_path: Path) -> None:
    block, kv = LocalBlockStore(tmp_path / "blocks"), SQLiteKV(tmp_path / "meta.db")
    namespace = "local://lake/repo-1"
    store = PackedNodeStore(block, kv, namespace, NodeCache(), max_pack_nodes=40)
    items = lake_items(20_000)
    tree = Tree(store)
    root = tree.build(items)
    walked = list(tree.walk_nodes(root))
    assert store.packs_written == len(packs_of(block, namespace)) > 1
    rows = index_rows(kv, namespace)
    assert set(rows) == {root}  # the others are found through their parents
    assert walked[0] == root
    assert all(is_located(ref) for ref in walked[1:])
    stored: dict[str, Locator] = {}
    for address in packs_of(block, namespace):
        data = b"".join(block.get(address))
        assert data.startswith(PACK_MAGIC)
        nodes = unpack_nodes(data)  # a pack names its own nodes
        assert 0 < len(nodes) <= 40
        for nid, offset, length in nodes:
            stored[nid] = Locator(address.rsplit("/", 1)[1], offset, length)
    assert rows[root] == stored[root]
    # Every reference names the place its node was packed at.
    assert all(Locator.of_ref(ref) == stored[ref_id(ref)] for ref in walked[1:])
    reader = Tree(PackedNodeStore(block, kv, namespace, NodeCache()))
    assert list(reader.iterate(root)) == items
    assert [reader.check_node(nid) for nid in walked] == [None] * len(walked)
    kv.close()


def test_build_packs_stay_below_the_direct_write_threshold(tmp_path: Path) -> None:
    # Nodes are read back at random: their packs must stay in the page cache, so none
    # may grow past the size where the local store writes with O_DIRECT.
    block, kv = LocalBlockStore(tmp_path / "blocks"), SQLiteKV(tmp_path / "meta.db")
    namespace = "local://lake/repo-1"
    tree = Tree(PackedNodeStore(block, kv, namespace, NodeCache()))
    root = tree.build(lake_items(60_000))
    sizes = [stat.size for stat in block.list_prefix(f"{namespace}/_lakever/packs/")]
    assert len(sizes) > 1
    assert sum(sizes) > DIRECT_AFTER
    assert max(sizes) <= DIRECT_AFTER
    assert tree.count(root) == 60_000


def test_each_apply_writes_one_pack_holding_only_the_rewritten_nodes() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    tree = Tree(store)
    root = tree.build(lake_items(50_000))
    packs_before = set(packs_of(block, NAMESPACE))
    before, rows_before = store.packs_written, len(index_rows(kv))
    written, bytes_before = tree.nodes_written, store.bytes_written
    changes = [(key, b"changed") for key, _ in lake_items(50_000)[::500]]  # 100, scattered
    new_root = tree.apply(root, changes)
    assert store.packs_written == before + 1
    (pack,) = [a for a in packs_of(block, NAMESPACE) if a not in packs_before]
    assert store.bytes_written - bytes_before == len(b"".join(block.get(pack)))
    # One index row, the new root's, however many nodes were written; and the pack's
    # patches name the build's pack, which holds their bases.
    assert set(index_rows(kv)) - {root} == {new_root}
    assert rows_before == 1
    assert tree.nodes_written - written > 100
    ((described, (needed, unlocated)),) = depends_rows(kv).items()
    assert described == pack.rsplit("/", 1)[1]
    assert needed
    assert {f"{NAMESPACE}/_lakever/packs/{p}" for p in needed} <= packs_before
    assert unlocated == []
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    assert reader.get(new_root, changes[37][0]) == b"changed"
    assert reader.count(new_root) == 50_000


def test_a_node_without_an_index_row_is_read_from_the_one_blob_layout() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    items = lake_items(3_000)
    root = Tree(BlockNodeStore(block, NAMESPACE, NodeCache())).build(items)
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    assert list(reader.iterate(root)) == items
    assert all(reader.check_node(nid) is None for nid in reader.walk_nodes(root))
    assert index_rows(kv) == {}


def test_a_node_neither_packed_nor_in_the_one_blob_layout_is_not_found() -> None:
    store = PackedNodeStore(MemoryBlockStore(), MemoryKV(), NAMESPACE, NodeCache())
    with pytest.raises(NotFound) as raised:
        Tree(store).get("ab" * 32, b"k")
    assert raised.value.kind == "node"
    assert Tree(store).check_node("ab" * 32) == f"tree node {'ab' * 32} not found"


def test_altered_pack_bytes_are_refused_as_corrupt() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build([(b"k", b"v")])
    (address,) = packs_of(block)
    data = bytearray(b"".join(block.get(address)))
    data[-1] ^= 0xFF
    block.put(address, [bytes(data)])
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    with pytest.raises(CorruptNode):
        reader.get(root, b"k")
    assert reader.check_node(root) == f"tree node {root} does not match its hash"


def test_a_failed_pack_write_fails_the_build_and_a_retry_stores_everything() -> None:
    class FailingOnce(MemoryBlockStore):
        failed = False

        def put(self, address: str, chunks: Any) -> Any:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            return super().put(address, chunks)

    block, kv, cache = FailingOnce(), MemoryKV(), NodeCache()
    items = lake_items(5_000)
    store = PackedNodeStore(block, kv, NAMESPACE, cache, max_pack_nodes=20)
    with pytest.raises(OSError, match="disk full"):
        Tree(store).build(items)
    root = Tree(store).build(items)  # same cache: nothing of the failed pack is skipped
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    assert list(reader.iterate(root)) == items
    assert all(reader.check_node(nid) is None for nid in reader.walk_nodes(root))


def test_a_tree_whose_packs_were_lost_is_whole_again_once_written_again() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    items = lake_items(2_000)
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(items)
    for address in packs_of(block):
        block.delete(address)
    assert Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).check_node(root)
    again = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    new_root = again.build(items)
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    assert list(reader.iterate(new_root)) == items
    assert all(reader.check_node(ref) is None for ref in reader.walk_nodes(new_root))


def test_a_cached_node_whose_storage_was_collected_is_written_again() -> None:
    # A server keeps in its node cache what it wrote; if nothing names those nodes (the
    # operation failed before its commit record), garbage collection removes their
    # packs and rows. Producing the same nodes later must store them again, not trust
    # the cache.
    block, kv = MemoryBlockStore(), MemoryKV()
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    items = lake_items(2_000)
    Tree(store).build(items)
    for address in packs_of(block):
        block.delete(address)
    for node in index_rows(kv):
        kv.delete(f"graveler/nodeindex/{NAMESPACE}", node.encode())
    again = Tree(store).build(items)  # every node still in the writer's cache
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    assert list(reader.iterate(again)) == items
    assert all(reader.check_node(ref) is None for ref in reader.walk_nodes(again))


def test_a_remembered_locator_whose_pack_was_collected_falls_back_to_the_index() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    items = lake_items(20)  # a root that is its only node
    cache = NodeCache()
    first = PackedNodeStore(block, kv, NAMESPACE, cache)
    root = Tree(first).build(items)
    old_packs = set(packs_of(block))
    # Another server writes the same root again (its row now names its copy), then the
    # first copy is collected.
    PackedNodeStore(block, kv, NAMESPACE, NodeCache()).put(root, first.get(root))
    for address in old_packs:
        block.delete(address)
    cache.clear()  # the first server's locator still names the collected pack
    assert list(Tree(first).iterate(root)) == items


def test_threads_sharing_a_packed_store_each_get_complete_trees() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    tree = Tree(store)
    base = lake_items(10_000)
    roots: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            # Overlapping content: threads save many of the same nodes at once.
            roots[n] = tree.build(base[: 8_000 + n * 500])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reader = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    for n, root in roots.items():
        assert reader.count(root) == 8_000 + n * 500
        assert all(reader.check_node(nid) is None for nid in reader.walk_nodes(root))


def test_a_node_read_back_after_leaving_the_node_cache_uses_the_locator_cache() -> None:
    class CountingKV(MemoryKV):
        gets = 0

        def get(self, partition: str, key: bytes) -> bytes | None:
            CountingKV.gets += 1
            return super().get(partition, key)

    block, kv = MemoryBlockStore(), CountingKV()
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(lake_items(2_000))
    cache = NodeCache()
    tree = Tree(PackedNodeStore(block, kv, NAMESPACE, cache))
    assert tree.count(root) == 2_000
    assert CountingKV.gets == 1
    cache.clear()
    assert tree.count(root) == 2_000
    assert CountingKV.gets == 1


def test_address_names_the_blob_that_holds_a_node_in_either_layout() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    packed = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build([(b"k", b"v")])
    one_blob = Tree(BlockNodeStore(block, NAMESPACE, NodeCache())).build([(b"k", b"w")])
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    assert [store.address(packed)] == packs_of(block)
    assert store.address(one_blob) == f"{NAMESPACE}/_lakever/nodes/{one_blob[:2]}/{one_blob}"
    assert block.exists(store.address(one_blob))


class CountingBlockReads(MemoryBlockStore):
    """Counts ranged and whole reads."""

    reads = 0

    def get(self, address: str, start: int = 0, end: int | None = None) -> Any:
        self.reads += 1
        return super().get(address, start, end)


class CountingReads(MemoryKV):
    """Counts single lookups and batched ones."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.batches = 0

    def get(self, partition: str, key: bytes) -> bytes | None:
        self.gets += 1
        return super().get(partition, key)

    def get_many(self, partition: str, keys: Any) -> dict[bytes, bytes]:
        self.batches += 1
        return super().get_many(partition, keys)


def test_a_scattered_apply_on_a_cold_cache_looks_up_its_leaves_in_batches() -> None:
    block, kv = MemoryBlockStore(), CountingReads()
    items = lake_items(50_000)
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(items)
    changes = [(key, b"changed") for key, _ in items[::500]]  # 100 leaves
    reference = Tree(MemoryNodeStore())
    expected = reference.apply(reference.build(items), changes)
    kv.gets = kv.batches = 0
    cold = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    new_root = cold.apply(root, changes)
    assert list(cold.iterate(new_root)) == list(reference.iterate(expected))
    # One index lookup, the root's: every other node is found through its parent.
    assert (kv.gets, kv.batches) == (1, 0)


def test_prefetch_reads_neighbouring_nodes_of_a_pack_at_once() -> None:
    class CountingBlocks(MemoryBlockStore):
        reads = 0

        def get(self, address: str, start: int = 0, end: int | None = None) -> Any:
            CountingBlocks.reads += 1
            return super().get(address, start, end)

    block, kv = CountingBlocks(), MemoryKV()
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(lake_items(5_000))
    walked = list(Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).walk_nodes(root))
    CountingBlocks.reads = 0
    cache = NodeCache()
    PackedNodeStore(block, kv, NAMESPACE, cache).prefetch(walked)
    assert CountingBlocks.reads == 1  # one pack, written in one go: one span
    assert len(cache) == len(walked)


def test_prefetch_leaves_unreadable_nodes_to_be_reported_by_their_read() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    items = lake_items(5_000)
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(items)
    walked = list(Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).walk_nodes(root))
    for address in packs_of(block):
        block.delete(address)
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    store.prefetch([*walked, "ab" * 32])
    with pytest.raises(NotFound, match="pack"):
        Tree(store).get(root, items[0][0])


def test_parallel_prefetch_caches_every_node_of_many_packs() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    writer = PackedNodeStore(block, kv, NAMESPACE, NodeCache(), max_pack_nodes=10)
    root = Tree(writer).build(lake_items(5_000))
    walked = list(Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).walk_nodes(root))
    assert len(packs_of(block)) > 4
    cache = NodeCache()
    PackedNodeStore(block, kv, NAMESPACE, cache, read_concurrency=4).prefetch(walked)
    assert len(cache) == len(walked)


def test_a_failed_apply_leaves_no_unflushed_nodes_behind() -> None:
    block, kv = MemoryBlockStore(), MemoryKV()
    store = PackedNodeStore(block, kv, NAMESPACE, NodeCache())
    tree = Tree(store)
    items = lake_items(20_000)
    root = tree.build(items)
    packs = store.packs_written
    # Sorted for a while, so leaves are rewritten and saved before the bad key is met.
    changes = [(key, b"new") for key, _ in items[::40]] + [(b"a", b"out of order")]
    with pytest.raises(InvalidValue):
        tree.apply(root, changes)
    assert store._pending == {}
    tree.build([(b"k", b"v")])  # the next flush writes only its own node
    assert store.packs_written == packs + 1
    (newest,) = [a for a in packs_of(block) if len(unpack_nodes(b"".join(block.get(a)))) == 1]
    assert newest


def test_a_cold_scan_reads_its_leaves_in_growing_batches() -> None:
    block, kv = CountingBlockReads(), CountingReads()
    items = lake_items(50_000)
    root = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache(), max_pack_nodes=8)).build(items)
    kv.gets = kv.batches = 0
    block.reads = 0
    cold = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache()))
    start = items[20_000][0]
    page = [item for item, _ in zip(cold.iterate(root, start), range(2_000), strict=False)]
    assert page == items[20_000:22_000]  # about 30 leaves, in packs of 8 nodes
    assert (kv.gets, kv.batches) == (1, 0)  # the root; the rest through references
    # The path down one node at a time, then the leaves in batches of 2, 4, 8: a read
    # per pack a batch spans, far fewer than a read per leaf.
    assert block.reads <= cold.height(root) + 1 + 12


def test_packs_skip_the_md5_where_the_store_can_and_use_put_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalBlockStore(tmp_path / "blocks")
    calls: list[str] = []
    monkeypatch.setattr(local, "put", lambda *a, **k: calls.append("put"))
    real = local.put_undigested
    monkeypatch.setattr(
        local, "put_undigested", lambda *a: (calls.append("put_undigested"), real(*a))[1]
    )
    namespace = "local://lake/repo-1"
    items = lake_items(500)
    root = Tree(PackedNodeStore(local, MemoryKV(), namespace, NodeCache())).build(items)
    assert calls
    assert set(calls) == {"put_undigested"}
    memory = MemoryBlockStore()
    memory_tree = Tree(PackedNodeStore(memory, MemoryKV(), NAMESPACE, NodeCache()))
    assert list(memory_tree.iterate(memory_tree.build(items))) == items
    assert root
    assert packs_of(memory)
