"""Diff (two-dot, three-dot, uncommitted, delimiter) and three-way merge."""

from __future__ import annotations

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import DirtyBranch, InvalidValue, MergeConflict, NoChanges

from .support import commit_files, paths, put, read


def _diff(page: object) -> list[tuple[str, str]]:
    return [(d.path, d.type) for d in page.results]  # type: ignore[attr-defined]


def test_two_dot_and_three_dot_diffs(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1", "b": "1"})
    catalog.create_branch(repo, "dev", "main")
    commit_files(catalog, repo, "dev", {"a": "2", "c": "1"})
    commit_files(catalog, repo, "main", {"b": ""})  # main deletes b after the fork
    three = catalog.diff_refs(repo, "main", "dev", diff_type="three_dot")
    assert _diff(three) == [("a", "changed"), ("c", "added")]
    two = catalog.diff_refs(repo, "main", "dev", diff_type="two_dot")
    assert _diff(two) == [("a", "changed"), ("b", "added"), ("c", "added")]


def test_diff_with_prefix_delimiter_and_paging(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "dev", "main")
    commit_files(catalog, repo, "dev", {"x/1": "1", "x/2": "1", "y/1": "1", "z": "1"})
    grouped = catalog.diff_refs(repo, "main", "dev", delimiter="/")
    assert [(d.path, d.type, d.path_type) for d in grouped.results] == [
        ("x/", "prefix_changed", "common_prefix"),
        ("y/", "prefix_changed", "common_prefix"),
        ("z", "added", "object"),
    ]
    inside = catalog.diff_refs(repo, "main", "dev", prefix="x/")
    assert _diff(inside) == [("x/1", "added"), ("x/2", "added")]
    first = catalog.diff_refs(repo, "main", "dev", amount=3)
    assert first.has_more
    assert first.next_after == "y/1"
    assert _diff(catalog.diff_refs(repo, "main", "dev", after=first.next_after)) == [("z", "added")]


def test_uncommitted_diff_shows_staged_changes(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1", "b": "1"})
    put(catalog, repo, "main", "a", "2")
    put(catalog, repo, "main", "c", "3")
    catalog.delete_object(repo, "main", "b")
    diff = catalog.diff_uncommitted(repo, "main")
    assert _diff(diff) == [("a", "changed"), ("b", "removed"), ("c", "added")]
    assert diff.results[2].size_bytes == 1


def test_merge_brings_source_changes_with_two_parents(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"keep": "1", "edit": "1", "drop": "1"})
    catalog.create_branch(repo, "run", "main")
    src = commit_files(catalog, repo, "run", {"edit": "2", "drop": "", "new": "1"})
    dest_before = catalog.get_branch(repo, "main").commit_id
    result = catalog.merge(repo, "run", "main", "me", metadata={"dag": "etl"})
    merged = catalog.get_commit(repo, result.reference)
    assert merged.parents == (dest_before, src)
    assert merged.metadata == {"dag": "etl"}
    assert merged.message == "Merge 'run' into 'main'"
    assert paths(catalog, repo, "main") == ["edit", "keep", "new"]
    assert read(catalog, repo, "main", "edit") == b"2"
    assert result.summary["added"] == 1
    assert result.summary["removed"] == 1


def test_merge_keeps_destination_changes_made_since_the_fork(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1", "b": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "main", {"b": "main"})
    commit_files(catalog, repo, "run", {"a": "run"})
    catalog.merge(repo, "run", "main", "me")
    assert read(catalog, repo, "main", "a") == b"run"
    assert read(catalog, repo, "main", "b") == b"main"


def test_merge_is_never_a_fast_forward(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "run", "main")
    src = commit_files(catalog, repo, "run", {"a": "1"})
    result = catalog.merge(repo, "run", "main", "me")
    assert result.reference != src
    assert catalog.get_commit(repo, "main").parents[1] == src


def test_merge_with_nothing_to_merge_is_no_changes_unless_allowed(
    catalog: Catalog, repo: str
) -> None:
    catalog.create_branch(repo, "run", "main")
    with pytest.raises(NoChanges):
        catalog.merge(repo, "run", "main", "me")
    result = catalog.merge(repo, "run", "main", "me", allow_empty=True)
    assert catalog.get_branch(repo, "main").commit_id == result.reference


def test_merge_reports_every_conflicting_path(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"both": "0", "rm-dest": "0", "rm-src": "0", "ok": "0"})
    catalog.create_branch(repo, "run", "main")
    commit_files(
        catalog, repo, "main", {"both": "main", "rm-dest": "", "rm-src": "main", "added": "m"}
    )
    commit_files(
        catalog, repo, "run", {"both": "run", "rm-dest": "run", "rm-src": "", "added": "r"}
    )
    head = catalog.get_branch(repo, "main").commit_id
    with pytest.raises(MergeConflict) as caught:
        catalog.merge(repo, "run", "main", "me")
    reasons = {c.path: c.reason for c in caught.value.conflicts}
    assert reasons == {
        "added": "added on both sides with different content",
        "both": "changed on both sides",
        "rm-dest": "removed on destination, changed on source",
        "rm-src": "changed on destination, removed on source",
    }
    assert catalog.get_branch(repo, "main").commit_id == head  # nothing merged


def test_identical_changes_on_both_sides_are_not_conflicts(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "0", "gone": "0"})
    catalog.create_branch(repo, "run", "main")
    shared = put(catalog, repo, "main", "a", "same")
    catalog.delete_object(repo, "main", "gone")
    catalog.commit(repo, "main", "main side", "me")
    catalog.stage_entry(repo, "run", shared)  # the very same object on the other side
    catalog.delete_object(repo, "run", "gone")
    put(catalog, repo, "run", "extra", "x")
    catalog.commit(repo, "run", "run side", "me")
    catalog.merge(repo, "run", "main", "me")
    assert paths(catalog, repo, "main") == ["a", "extra"]


@pytest.mark.parametrize(("strategy", "winner"), [("dest-wins", b"main"), ("source-wins", b"run")])
def test_strategies_resolve_conflicts(
    catalog: Catalog, repo: str, strategy: str, winner: bytes
) -> None:
    commit_files(catalog, repo, "main", {"a": "0"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "main", {"a": "main"})
    commit_files(catalog, repo, "run", {"a": "run", "b": "run"})
    catalog.merge(repo, "run", "main", "me", strategy=strategy)  # type: ignore[arg-type]
    assert read(catalog, repo, "main", "a") == winner
    assert read(catalog, repo, "main", "b") == b"run"


def test_unknown_strategy_is_invalid(catalog: Catalog, repo: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.merge(repo, "main", "main", "me", strategy="ours")  # type: ignore[arg-type]


def test_squash_merge_has_one_parent(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"a": "1"})
    commit_files(catalog, repo, "run", {"b": "1"})
    before = catalog.get_branch(repo, "main").commit_id
    result = catalog.merge(repo, "run", "main", "me", squash=True)
    assert catalog.get_commit(repo, result.reference).parents == (before,)
    assert paths(catalog, repo, "main") == ["a", "b"]


def test_merge_into_branch_with_uncommitted_changes_is_refused(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"a": "1"})
    put(catalog, repo, "main", "dirty", "x")
    with pytest.raises(DirtyBranch):
        catalog.merge(repo, "run", "main", "me")


def test_merge_base_of_branches_and_repeated_merges(catalog: Catalog, repo: str) -> None:
    fork = commit_files(catalog, repo, "main", {"a": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "main", {"m": "1"})
    run1 = commit_files(catalog, repo, "run", {"r": "1"})
    base, src, _dest = catalog.find_merge_base(repo, "run", "main")
    assert (base, src) == (fork, run1)
    catalog.merge(repo, "run", "main", "me")
    commit_files(catalog, repo, "run", {"r": "2"})
    assert catalog.find_merge_base(repo, "run", "main")[0] == run1
    catalog.merge(repo, "run", "main", "me")  # second merge sees only the new change
    assert read(catalog, repo, "main", "r") == b"2"


def test_merge_from_a_tag_or_commit(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "run", "main")
    c = commit_files(catalog, repo, "run", {"a": "1"})
    catalog.create_tag(repo, "rel", c)
    catalog.merge(repo, "rel", "main", "me")
    assert paths(catalog, repo, "main") == ["a"]


def test_content_is_never_rewritten_by_branch_commit_merge_or_revert(
    catalog: Catalog, repo: str, namespace: str
) -> None:
    written = put(catalog, repo, "main", "data.csv", "a,b\n1,2\n")
    catalog.commit(repo, "main", "data", "me")
    blobs_before = [b.address for b in catalog.block.list_prefix(f"{namespace}/data/")]
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"other.csv": "x"})
    catalog.merge(repo, "run", "main", "me")
    catalog.revert(repo, "main", ["main"], "me", parent_number=1)
    blobs_after = [b.address for b in catalog.block.list_prefix(f"{namespace}/data/")]
    assert set(blobs_before) <= set(blobs_after)
    assert len(blobs_after) == len(blobs_before) + 1  # only other.csv's upload was added
    for ref in ("main", "run", "main~1"):
        entry = catalog.get_entry(repo, ref, "data.csv")
        assert entry.physical_address == written.physical_address
        assert entry.checksum == written.checksum
    assert read(catalog, repo, "main", "data.csv") == b"a,b\n1,2\n"


def test_merge_into_an_unmoved_destination_takes_the_source_tree_as_is(
    catalog: Catalog, repo: str
) -> None:
    commit_files(catalog, repo, "main", {"keep": "1", "edit": "1", "drop": "1"})
    catalog.create_branch(repo, "run", "main")
    source = commit_files(catalog, repo, "run", {"edit": "2", "drop": "", "new": "1"})
    namespace = catalog.graveler.get_repository(repo).storage_namespace
    packs = f"{namespace.rstrip('/')}/_lakever/packs/"
    written = len(list(catalog.block.list_prefix(packs)))
    result = catalog.merge(repo, "run", "main", "me")
    merged = catalog.get_commit(repo, result.reference)
    # main had not moved since the fork: the merged tree is the run's, rewritten nowhere.
    assert merged.meta_range_id == catalog.get_commit(repo, source).meta_range_id
    assert len(list(catalog.block.list_prefix(packs))) == written
    assert paths(catalog, repo, "main") == ["edit", "keep", "new"]
    assert read(catalog, repo, "main", "edit") == b"2"
    assert list(merged.parents) == [catalog.get_commit(repo, "main~1").id, source]


def test_merge_into_a_moved_destination_still_applies_both_sides(
    catalog: Catalog, repo: str
) -> None:
    commit_files(catalog, repo, "main", {"keep": "1", "edit": "1"})
    catalog.create_branch(repo, "run", "main")
    source = commit_files(catalog, repo, "run", {"edit": "2"})
    commit_files(catalog, repo, "main", {"other": "1"})
    result = catalog.merge(repo, "run", "main", "me")
    merged = catalog.get_commit(repo, result.reference)
    assert merged.meta_range_id != catalog.get_commit(repo, source).meta_range_id
    assert paths(catalog, repo, "main") == ["edit", "keep", "other"]
    assert read(catalog, repo, "main", "edit") == b"2"
