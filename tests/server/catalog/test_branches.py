"""Branches: O(1) creation, listing, deletion, reset, hard reset, hidden branches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import AlreadyExists, InvalidValue, NotFound
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

from .support import commit_files, paths, put


class CountingKV(MemoryKV):
    """A real in-memory store that counts the writes it receives."""

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
        sets, deletes = list(sets), list(deletes)
        self.writes += len(sets) + len(deletes)
        super().write_batch(partition, sets, deletes)

    def delete(self, partition: str, key: bytes) -> None:
        self.writes += 1
        super().delete(partition, key)


def test_branch_creation_copies_no_entries() -> None:
    kv = CountingKV()
    catalog = Catalog(kv, MemoryBlockStore())
    catalog.create_repository("repo1", "mem://lake/repo1")
    for i in range(50):
        put(catalog, "repo1", "main", f"data/{i:03}", str(i))
    catalog.commit("repo1", "main", "fifty objects", "tester")
    blocks_before = kv.writes
    catalog.create_branch("repo1", "run-1", "main")
    assert kv.writes - blocks_before == 1
    assert paths(catalog, "repo1", "run-1", amount=1000) == [f"data/{i:03}" for i in range(50)]


def test_branch_starts_at_source_head_without_its_staging(catalog: Catalog, repo: str) -> None:
    head = commit_files(catalog, repo, "main", {"a.txt": "a"})
    put(catalog, repo, "main", "staged.txt", "not committed")
    branch = catalog.create_branch(repo, "feature", "main")
    assert branch.commit_id == head
    assert paths(catalog, repo, "feature") == ["a.txt"]


def test_branch_from_commit_and_tag(catalog: Catalog, repo: str) -> None:
    first = commit_files(catalog, repo, "main", {"a.txt": "1"})
    commit_files(catalog, repo, "main", {"b.txt": "2"})
    catalog.create_tag(repo, "v1", first)
    assert catalog.create_branch(repo, "from-commit", first[:12]).commit_id == first
    assert catalog.create_branch(repo, "from-tag", "v1").commit_id == first
    assert catalog.create_branch(repo, "from-parent", "main~1").commit_id == first


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x@y", "dot.ted"])
def test_invalid_branch_names_are_refused(catalog: Catalog, repo: str, name: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.create_branch(repo, name, "main")


def test_existing_branch_cannot_be_created_again(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "feature", "main")
    with pytest.raises(AlreadyExists):
        catalog.create_branch(repo, "feature", "main")


def test_branch_from_unknown_ref_is_not_found(catalog: Catalog, repo: str) -> None:
    with pytest.raises(NotFound):
        catalog.create_branch(repo, "feature", "no-such-ref")


def test_list_branches_pages_and_hides_hidden_ones(catalog: Catalog, repo: str) -> None:
    for name in ["run-a", "run-b", "run-c"]:
        catalog.create_branch(repo, name, "main")
    catalog.create_branch(repo, "run-hidden", "main", hidden=True)
    page = catalog.list_branches(repo, prefix="run-", amount=2)
    assert [b.id for b in page.results] == ["run-a", "run-b"]
    assert page.has_more
    rest = catalog.list_branches(repo, prefix="run-", after=page.next_after)
    assert [b.id for b in rest.results] == ["run-c"]
    assert not rest.has_more
    shown = catalog.list_branches(repo, prefix="run-", show_hidden=True)
    assert "run-hidden" in [b.id for b in shown.results]
    assert catalog.get_branch(repo, "run-hidden").commit_id


def test_default_branch_cannot_be_deleted(catalog: Catalog, repo: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.delete_branch(repo, "main")


def test_deleted_branch_is_gone_with_its_staging(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "feature", "main")
    put(catalog, repo, "feature", "x.txt", "x")
    catalog.delete_branch(repo, "feature")
    with pytest.raises(NotFound):
        catalog.get_branch(repo, "feature")
    catalog.create_branch(repo, "feature", "main")
    assert paths(catalog, repo, "feature") == []


def test_reset_drops_all_uncommitted_changes(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"keep.txt": "k"})
    put(catalog, repo, "main", "new.txt", "n")
    catalog.delete_object(repo, "main", "keep.txt")
    catalog.reset_branch(repo, "main")
    assert paths(catalog, repo, "main") == ["keep.txt"]
    assert catalog.diff_uncommitted(repo, "main").results == []


def test_reset_of_one_object_or_a_prefix_keeps_the_rest(catalog: Catalog, repo: str) -> None:
    for path in ["a/1", "a/2", "b/1", "c"]:
        put(catalog, repo, "main", path, path)
    catalog.reset_branch(repo, "main", path="c")
    assert paths(catalog, repo, "main") == ["a/1", "a/2", "b/1"]
    catalog.reset_branch(repo, "main", prefix="a/")
    assert paths(catalog, repo, "main") == ["b/1"]


def test_hard_reset_moves_head_and_drops_staging(catalog: Catalog, repo: str) -> None:
    first = commit_files(catalog, repo, "main", {"a.txt": "1"})
    commit_files(catalog, repo, "main", {"b.txt": "2"})
    put(catalog, repo, "main", "staged.txt", "s")
    catalog.hard_reset_branch(repo, "main", first)
    assert catalog.get_branch(repo, "main").commit_id == first
    assert paths(catalog, repo, "main") == ["a.txt"]


def test_operations_on_unknown_branch_are_not_found(catalog: Catalog, repo: str) -> None:
    calls: list[Any] = [
        lambda: catalog.get_branch(repo, "ghost"),
        lambda: catalog.delete_branch(repo, "ghost"),
        lambda: put(catalog, repo, "ghost", "a", "a"),
        lambda: catalog.commit(repo, "ghost", "m", "c"),
        lambda: catalog.reset_branch(repo, "ghost"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
