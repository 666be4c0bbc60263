"""Diff against ``branch$``: the branch's committed changes plus its uncommitted ones."""

from __future__ import annotations

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import InvalidValue
from lakever_server.graveler.graveler import Graveler
from lakever_server.graveler.tree import NodeCache
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

from .support import commit_files, paths, put


def _diff(page: object) -> list[tuple[str, str]]:
    return [(d.path, d.type) for d in page.results]  # type: ignore[attr-defined]


@pytest.fixture
def dev(catalog: Catalog, repo: str) -> str:
    """``dev`` forked from main (``keep``, ``edit``, ``drop``, ``undo``), committed
    changes to ``edit``, ``undo`` and a new ``both``, then staged changes on top."""
    commit_files(catalog, repo, "main", {"keep": "1", "edit": "1", "drop": "1", "undo": "1"})
    catalog.create_branch(repo, "dev", "main")
    commit_files(catalog, repo, "dev", {"edit": "2", "undo": "2", "both": "1"})
    put(catalog, repo, "dev", "new", "staged")  # added, staged only
    catalog.delete_object(repo, "dev", "drop")  # removed, staged only
    catalog.copy_object(repo, "main", "undo", "dev", "undo")  # main's object again: no change
    catalog.delete_object(repo, "dev", "both")  # committed add, staged delete: no change
    put(catalog, repo, "dev", "edit", "three")  # committed change, staged again
    return "dev"


def test_diff_to_branch_dollar_includes_uncommitted_changes(
    catalog: Catalog, repo: str, dev: str
) -> None:
    for diff_type in ("two_dot", "three_dot"):
        page = catalog.diff_refs(repo, "main", "dev$", diff_type=diff_type)  # type: ignore[arg-type]
        assert _diff(page) == [("drop", "removed"), ("edit", "changed"), ("new", "added")]
        sizes = {d.path: d.size_bytes for d in page.results}
        assert sizes == {"drop": 1, "edit": 5, "new": 6}


def test_diff_to_plain_branch_stays_committed_only(catalog: Catalog, repo: str, dev: str) -> None:
    page = catalog.diff_refs(repo, "main", "dev", diff_type="two_dot")
    assert _diff(page) == [("both", "added"), ("edit", "changed"), ("undo", "changed")]


def test_three_dot_diff_to_branch_dollar_ignores_later_destination_commits(
    catalog: Catalog, repo: str, dev: str
) -> None:
    commit_files(catalog, repo, "main", {"keep": "2", "late": "1"})
    three = catalog.diff_refs(repo, "main", "dev$", diff_type="three_dot")
    assert _diff(three) == [("drop", "removed"), ("edit", "changed"), ("new", "added")]
    two = catalog.diff_refs(repo, "main", "dev$", diff_type="two_dot")
    assert ("keep", "changed") in _diff(two)
    assert ("late", "removed") in _diff(two)


def test_diff_to_branch_dollar_pages_and_groups(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "dev", "main")
    commit_files(catalog, repo, "dev", {"x/1": "1", "y/1": "1"})
    put(catalog, repo, "dev", "x/2", "1")
    put(catalog, repo, "dev", "z", "1")
    first = catalog.diff_refs(repo, "main", "dev$", amount=2)
    assert _diff(first) == [("x/1", "added"), ("x/2", "added")]
    assert first.has_more
    rest = catalog.diff_refs(repo, "main", "dev$", after=first.next_after)
    assert _diff(rest) == [("y/1", "added"), ("z", "added")]
    grouped = catalog.diff_refs(repo, "main", "dev$", delimiter="/", prefix="")
    assert [d.path for d in grouped.results] == ["x/", "y/", "z"]
    inside = catalog.diff_refs(repo, "main", "dev$", prefix="x/")
    assert _diff(inside) == [("x/1", "added"), ("x/2", "added")]


def test_left_side_dollar_is_still_refused(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "dev", "main")
    with pytest.raises(InvalidValue):
        catalog.diff_refs(repo, "dev$", "main")


def test_diff_to_branch_dollar_reads_only_what_changed() -> None:
    """Cold caches on a 4,000-object tree: the diff touches a few nodes, a listing all."""
    kv, block = MemoryKV(), MemoryBlockStore()
    writer = Catalog(kv, block)
    writer.create_repository("big", "mem://lake/big")
    for i in range(4000):
        put(writer, "big", "main", f"data/{i:05}", str(i))
    writer.commit("big", "main", "many", "tester")
    writer.create_branch("big", "dev", "main")
    commit_files(writer, "big", "dev", {"data/01000": "changed"})
    put(writer, "big", "dev", "data/03000", "staged")

    def lookups(action: str) -> int:
        cache = NodeCache()
        reader = Catalog(kv, block, graveler=Graveler(kv, block, cache=cache))
        if action == "diff":
            page = reader.diff_refs("big", "main", "dev$", amount=1000)
            assert _diff(page) == [("data/01000", "changed"), ("data/03000", "changed")]
        else:
            assert len(paths(reader, "big", "dev", amount=1000)) == 1000
            for i in range(1, 4):
                reader.list_entries("big", "dev", after=f"data/{i * 1000 - 1:05}", amount=1000)
        return cache.hits + cache.misses

    assert lookups("diff") * 5 < lookups("listing")
