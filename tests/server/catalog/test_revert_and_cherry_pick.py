"""Revert (one or several commits, merge commits with parent_number) and cherry-pick."""

from __future__ import annotations

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import DirtyBranch, InvalidValue, MergeConflict, NoChanges

from .support import commit_files, paths, put, read


def test_revert_undoes_one_commit(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1", "b": "1"})
    bad = commit_files(catalog, repo, "main", {"a": "bad", "b": "", "c": "bad"})
    commit_files(catalog, repo, "main", {"d": "later"})
    reverted = catalog.revert(repo, "main", [bad], "me")
    assert reverted.parents == (catalog.get_commit(repo, "main~1").id,)
    assert paths(catalog, repo, "main") == ["a", "b", "d"]
    assert read(catalog, repo, "main", "a") == b"1"


def test_revert_of_several_commits_is_one_atomic_commit(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    first = commit_files(catalog, repo, "main", {"a": "2"})
    second = commit_files(catalog, repo, "main", {"a": "3", "b": "1"})
    head = catalog.get_branch(repo, "main").commit_id
    reverted = catalog.revert(repo, "main", [first, second], "me")
    assert reverted.parents == (head,)
    assert paths(catalog, repo, "main") == ["a"]
    assert read(catalog, repo, "main", "a") == b"1"


def test_revert_of_merge_commit_requires_parent_number(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"bad": "x"})
    catalog.merge(repo, "run", "main", "me")
    with pytest.raises(InvalidValue):
        catalog.revert(repo, "main", ["main"], "me")
    with pytest.raises(InvalidValue):
        catalog.revert(repo, "main", ["main"], "me", parent_number=3)
    catalog.revert(repo, "main", ["main"], "me", parent_number=1)
    assert paths(catalog, repo, "main") == ["a"]


def test_revert_of_caret_one_by_ref_expression(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    commit_files(catalog, repo, "main", {"b": "1"})
    commit_files(catalog, repo, "main", {"c": "1"})
    catalog.revert(repo, "main", ["main^1"], "me")
    assert paths(catalog, repo, "main") == ["a", "c"]


def test_revert_conflicting_with_later_change_lists_conflicts(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    bad = commit_files(catalog, repo, "main", {"a": "2"})
    commit_files(catalog, repo, "main", {"a": "3"})
    with pytest.raises(MergeConflict) as caught:
        catalog.revert(repo, "main", [bad], "me")
    assert [c.path for c in caught.value.conflicts] == ["a"]


def test_revert_needs_a_clean_branch(catalog: Catalog, repo: str) -> None:
    bad = commit_files(catalog, repo, "main", {"a": "1"})
    put(catalog, repo, "main", "dirty", "x")
    with pytest.raises(DirtyBranch):
        catalog.revert(repo, "main", [bad], "me")


def test_revert_of_a_reverted_change_has_no_changes(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    bad = commit_files(catalog, repo, "main", {"b": "1"})
    catalog.revert(repo, "main", [bad], "me")
    with pytest.raises(NoChanges):
        catalog.revert(repo, "main", [bad], "me")


def test_cherry_pick_applies_a_commit_with_origin_metadata(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"base": "1"})
    catalog.create_branch(repo, "hotfix", "main")
    commit_files(catalog, repo, "hotfix", {"unwanted": "1"})
    fix = commit_files(catalog, repo, "hotfix", {"fix": "1", "base": "2"}, "the fix")
    picked = catalog.cherry_pick(repo, "main", fix, "me")
    assert picked.metadata["cherry-pick-origin"] == fix
    assert picked.message == "the fix"
    assert paths(catalog, repo, "main") == ["base", "fix"]
    assert read(catalog, repo, "main", "base") == b"2"


def test_cherry_pick_of_merge_commit_requires_parent_number(catalog: Catalog, repo: str) -> None:
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"r": "1"})
    catalog.merge(repo, "run", "main", "me")
    catalog.create_branch(repo, "other", "main~1")
    with pytest.raises(InvalidValue):
        catalog.cherry_pick(repo, "other", "main", "me")
    catalog.cherry_pick(repo, "other", "main", "me", parent_number=1)
    assert paths(catalog, repo, "other") == ["r"]
