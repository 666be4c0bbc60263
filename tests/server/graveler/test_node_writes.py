"""Tree nodes are written in the background but stored before a commit names them."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.graveler.node_writes import NodeWriteFailed
from lakever_server.storage.block.base import PutResult
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV


class FlakyNodeStorage(MemoryBlockStore):
    """A memory block store whose tree-node writes fail while ``failing`` is set."""

    failing = False

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        if self.failing and "/_lakever/nodes/" in address:
            raise OSError("disk full")
        return super().put(address, chunks)


def test_a_commit_whose_tree_nodes_fail_to_store_changes_nothing() -> None:
    block = FlakyNodeStorage()
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "mem://lake/repo1")
    catalog.write_object("repo1", "main", "a", [b"1"])
    head = catalog.get_branch("repo1", "main").commit_id
    block.failing = True
    with pytest.raises(OSError, match="disk full"):
        catalog.commit("repo1", "main", "m", "me")
    assert catalog.get_branch("repo1", "main").commit_id == head
    block.failing = False
    commit = catalog.commit("repo1", "main", "m", "me")
    cold = Catalog(catalog.kv, block)  # no cache: reads only what is stored
    assert [e.path for e in cold.list_entries("repo1", commit.id).results] == ["a"]
    assert cold.verify("repo1") == []


def test_every_node_of_a_commit_is_stored_when_the_commit_returns() -> None:
    block = MemoryBlockStore()
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "mem://lake/repo1")
    for i in range(300):
        catalog.write_object("repo1", "main", f"k/{i:04}", [str(i).encode()])
    commit = catalog.commit("repo1", "main", "m", "me")
    cold = Catalog(catalog.kv, block)  # no cache, no pending writes: only what is stored
    assert cold.verify("repo1") == []
    assert len(cold.list_entries("repo1", commit.id, amount=1000).results) == 300


def test_an_operation_that_began_before_a_node_write_failed_is_refused() -> None:
    block = FlakyNodeStorage()
    catalog = Catalog(MemoryKV(), block)
    catalog.create_repository("repo1", "mem://lake/repo1")
    catalog.write_object("repo1", "main", "a", [b"1"])
    graveler = catalog.graveler
    before_failure = graveler.open("repo1")  # an operation in progress elsewhere
    block.failing = True
    with pytest.raises(OSError, match="disk full"):
        catalog.commit("repo1", "main", "m", "me")
    block.failing = False
    with pytest.raises(NodeWriteFailed):
        before_failure.flush_nodes()
    graveler.open("repo1").flush_nodes()  # operations that start afterwards proceed
