"""A commit names only tree nodes that are stored, whether nodes are written inline or
in parallel (the tree writes in parallel on every store but memory)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.storage.block.base import PutResult
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
