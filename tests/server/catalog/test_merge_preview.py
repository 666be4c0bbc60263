"""Merge dry runs: exactly what ``merge`` would do, computed without writing anything."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import InvalidValue, MergeConflict
from lakever_server.storage.block.base import PutResult
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

from .support import commit_files, put


def _conflicting_pair(catalog: Catalog, repo: str) -> None:
    """``run`` and ``main`` both change ``a`` and ``c`` differently; ``run`` alone adds
    ``new`` and main alone changes ``b``."""
    commit_files(catalog, repo, "main", {"a": "1", "b": "1", "c": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"a": "run", "c": "", "new": "1"})
    commit_files(catalog, repo, "main", {"a": "main", "b": "2", "c": "main"})


def test_preview_lists_the_same_conflicts_as_the_merge(catalog: Catalog, repo: str) -> None:
    _conflicting_pair(catalog, repo)
    preview = catalog.preview_merge(repo, "run", "main")
    with pytest.raises(MergeConflict) as merged:
        catalog.merge(repo, "run", "main", "tester")
    assert preview.conflicts == merged.value.conflicts
    assert [c.path for c in preview.conflicts] == ["a", "c"]
    assert preview.summary["conflict"] == 2
    assert not preview.can_merge
    base, source, destination = catalog.find_merge_base(repo, "run", "main")
    assert (preview.base, preview.source, preview.destination) == (base, source, destination)


def test_preview_of_a_clean_pair_counts_what_the_merge_does(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"keep": "1", "edit": "1", "drop": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"edit": "2", "drop": "", "new": "1"})
    preview = catalog.preview_merge(repo, "run", "main")
    assert preview.can_merge
    assert preview.conflicts == []
    assert preview.changes == 3
    result = catalog.merge(repo, "run", "main", "tester")
    assert preview.summary == result.summary


def test_preview_with_a_strategy_resolves_conflicts(catalog: Catalog, repo: str) -> None:
    _conflicting_pair(catalog, repo)
    source_wins = catalog.preview_merge(repo, "run", "main", strategy="source-wins")
    assert source_wins.conflicts == []
    assert source_wins.changes == 3  # new, and a and c taken from the source
    dest_wins = catalog.preview_merge(repo, "run", "main", strategy="dest-wins")
    assert dest_wins.changes == 1
    with pytest.raises(InvalidValue):
        catalog.preview_merge(repo, "run", "main", strategy="theirs")  # type: ignore[arg-type]


def test_preview_reports_a_dirty_destination_and_nothing_to_merge(
    catalog: Catalog, repo: str
) -> None:
    catalog.create_branch(repo, "run", "main")
    idle = catalog.preview_merge(repo, "run", "main")
    assert (idle.changes, idle.dirty, idle.can_merge) == (0, False, False)
    commit_files(catalog, repo, "run", {"x": "1"})
    put(catalog, repo, "main", "staged", "not committed")
    dirty = catalog.preview_merge(repo, "run", "main")
    assert (dirty.changes, dirty.dirty, dirty.can_merge) == (1, True, False)


class CountingKV(MemoryKV):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def set(self, partition: str, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().set(partition, key, value)

    def set_if(self, partition: str, key: bytes, value: bytes, expected: bytes | None) -> None:
        self.writes += 1
        super().set_if(partition, key, value, expected)

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        self.writes += 1
        super().write_batch(partition, sets, deletes)

    def delete(self, partition: str, key: bytes) -> None:
        self.writes += 1
        super().delete(partition, key)


class CountingBlocks(MemoryBlockStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        self.puts += 1
        return super().put(address, chunks)


@pytest.mark.parametrize("pair", ["conflicting", "clean"])
def test_preview_writes_no_node_commit_or_ref(pair: str) -> None:
    kv, block = CountingKV(), CountingBlocks()
    catalog = Catalog(kv, block)
    catalog.create_repository("repo1", "mem://lake/repo1")
    if pair == "conflicting":
        _conflicting_pair(catalog, "repo1")
    else:
        catalog.create_branch("repo1", "run", "main")
        commit_files(catalog, "repo1", "run", {f"k{i}": str(i) for i in range(50)})
    catalog.graveler.staging.wait_for_drops()  # background token drops are writes too
    heads = {b.id: b.commit_id for b in catalog.list_branches("repo1").results}
    writes, puts = kv.writes, block.puts
    preview = catalog.preview_merge("repo1", "run", "main")
    assert bool(preview.conflicts) == (pair == "conflicting")
    assert (kv.writes, block.puts) == (writes, puts)
    assert {b.id: b.commit_id for b in catalog.list_branches("repo1").results} == heads
