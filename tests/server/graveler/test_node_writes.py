"""A commit names only tree nodes that are stored, whether nodes are written inline or
in parallel (the tree writes in parallel on every store but memory)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.graveler.tree import BlockNodeStore, NodeCache
from lakever_server.graveler.tree.codec import Node, encode, node_id
from lakever_server.storage.block.base import PutResult
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV


class FlakyNodeStorage(MemoryBlockStore):
    """Blobs in memory; tree-node writes fail while ``failing`` is set."""

    failing = False

    def __init__(self, scheme: str) -> None:
        super().__init__()
        self.schemes = (scheme,)

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        if self.failing and "/_lakever/nodes/" in address:
            raise OSError("disk full")
        return super().put(address, chunks)


@pytest.fixture(params=["mem", "disk"], ids=["inline-writes", "parallel-writes"])
def flaky(request: pytest.FixtureRequest) -> tuple[Catalog, FlakyNodeStorage]:
    block = FlakyNodeStorage(request.param)
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", f"{request.param}://lake/repo1")
    return catalog, block


def test_a_commit_whose_tree_nodes_fail_to_store_changes_nothing(
    flaky: tuple[Catalog, FlakyNodeStorage],
) -> None:
    catalog, block = flaky
    for i in range(200):
        catalog.write_object("repo1", "main", f"k/{i:04}", [b"1"])
    head = catalog.get_branch("repo1", "main").commit_id
    block.failing = True
    with pytest.raises(OSError, match="disk full"):
        catalog.commit("repo1", "main", "m", "me")
    assert catalog.get_branch("repo1", "main").commit_id == head
    block.failing = False
    commit = catalog.commit("repo1", "main", "m", "me")
    cold = Catalog(catalog.kv, block)  # no cache: reads only what is stored
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 200
    assert cold.verify("repo1") == []


def test_every_node_of_a_commit_is_stored_when_the_commit_returns(
    flaky: tuple[Catalog, FlakyNodeStorage],
) -> None:
    catalog, block = flaky
    for i in range(300):
        catalog.write_object("repo1", "main", f"k/{i:04}", [str(i).encode()])
    commit = catalog.commit("repo1", "main", "m", "me")
    cold = Catalog(catalog.kv, block)
    assert cold.verify("repo1") == []
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 300


class SyncRecordingDisk(LocalBlockStore):
    """The local disk store, recording which tree nodes were written and which synced."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.written: list[str] = []
        self.synced: set[str] = set()
        self.syncs = 0

    def put_unsynced(self, address: str, data: bytes) -> None:
        super().put_unsynced(address, data)
        self.written.append(address)

    def sync(self, addresses: Sequence[str]) -> None:
        super().sync(addresses)
        self.synced.update(addresses)
        self.syncs += 1


def test_a_commit_on_local_disk_syncs_its_new_nodes_once_before_it_returns(
    tmp_path: Path,
) -> None:
    block = SyncRecordingDisk(tmp_path / "blocks")
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "local://lake/repo1")
    for i in range(500):
        catalog.write_object("repo1", "main", f"k/{i:04}", [b"1"])
    block.written.clear()
    commit = catalog.commit("repo1", "main", "m", "me")
    assert block.syncs == 1
    assert len(block.written) > 1
    assert set(block.written) <= block.synced
    cold = Catalog(catalog.kv, LocalBlockStore(tmp_path / "blocks"))
    assert cold.verify("repo1") == []
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 500


def test_a_node_another_thread_wrote_but_has_not_synced_is_synced_by_its_next_user(
    tmp_path: Path,
) -> None:
    block = SyncRecordingDisk(tmp_path / "blocks")
    store = BlockNodeStore(block, "local://lake/repo1", NodeCache())
    node = Node.leaf([b"k"], [b"v"])
    data = encode(node)
    nid = node_id(data)
    writer = threading.Thread(target=store.save_node, args=(nid, node, data))
    writer.start()
    writer.join()  # written, cached, not flushed
    store.save_node(nid, node, data)
    store.flush()
    assert store.address(nid) in block.synced
