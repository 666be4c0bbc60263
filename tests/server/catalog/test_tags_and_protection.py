"""Tags and branch protection."""

from __future__ import annotations

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import BranchProtectionRule, GarbageCollectionRules
from lakever_server.errors import (
    AlreadyExists,
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ProtectedBranch,
)

from .support import commit_files, paths, put


def test_tags_create_get_list_delete(catalog: Catalog, repo: str) -> None:
    first = commit_files(catalog, repo, "main", {"a": "1"})
    catalog.create_tag(repo, "v1.0", "main")
    catalog.create_tag(repo, "v1.1", "main")
    assert catalog.get_tag(repo, "v1.0").commit_id == first
    assert [t.id for t in catalog.list_tags(repo, prefix="v1.").results] == ["v1.0", "v1.1"]
    assert paths(catalog, repo, "v1.0") == ["a"]
    catalog.delete_tag(repo, "v1.0")
    with pytest.raises(NotFound):
        catalog.get_tag(repo, "v1.0")


def test_existing_tag_needs_force_to_move(catalog: Catalog, repo: str) -> None:
    catalog.create_tag(repo, "rel", "main")
    second = commit_files(catalog, repo, "main", {"a": "1"})
    with pytest.raises(AlreadyExists):
        catalog.create_tag(repo, "rel", "main")
    assert catalog.create_tag(repo, "rel", "main", force=True).commit_id == second


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a..b",
        "a b",
        "x~1",
        "q^",
        "c:d",
        "w?",
        "s*",
        "br[",
        "end.",
        "x.lock",
        "/a",
        "a/",
        "@",
        "a@{b",
        ".hidden",
    ],
)
def test_tag_names_follow_git_ref_rules(catalog: Catalog, repo: str, name: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.create_tag(repo, name, "main")


def test_tag_of_unknown_ref_is_not_found(catalog: Catalog, repo: str) -> None:
    with pytest.raises(NotFound):
        catalog.create_tag(repo, "t", "missing")


def test_protected_branch_refuses_direct_writes_but_accepts_merges(
    catalog: Catalog, repo: str
) -> None:
    catalog.create_branch(repo, "run", "main")
    catalog.set_protection_rules(repo, [BranchProtectionRule("ma*")])
    for call in (
        lambda: put(catalog, repo, "main", "a", "1"),
        lambda: catalog.delete_object(repo, "main", "a"),
        lambda: catalog.commit(repo, "main", "m", "me", allow_empty=True),
        lambda: catalog.reset_branch(repo, "main"),
        lambda: catalog.hard_reset_branch(repo, "main", "run"),
    ):
        with pytest.raises(ProtectedBranch):
            call()
    commit_files(catalog, repo, "run", {"a": "1"})
    catalog.merge(repo, "run", "main", "me")
    assert paths(catalog, repo, "main") == ["a"]
    catalog.revert(repo, "main", ["main"], "me", parent_number=1)
    assert paths(catalog, repo, "main") == []


def test_force_does_not_bypass_branch_protection(catalog: Catalog, repo: str) -> None:
    """``force`` overrides a read-only repository, never a protection rule (as in lakeFS)."""
    put(catalog, repo, "main", "a", "1")
    catalog.commit(repo, "main", "m", "me")
    catalog.create_branch(repo, "run", "main")
    catalog.set_protection_rules(repo, [BranchProtectionRule("main")])
    for call in (
        lambda: catalog.delete_object(repo, "main", "a", force=True),
        lambda: catalog.delete_objects(repo, "main", ["a"], force=True),
        lambda: catalog.delete_branch(repo, "main", force=True),
        lambda: catalog.hard_reset_branch(repo, "main", "run", force=True),
    ):
        with pytest.raises(ProtectedBranch):
            call()
    assert paths(catalog, repo, "main") == ["a"]


def test_protection_rules_use_etags(catalog: Catalog, repo: str) -> None:
    rules, etag = catalog.protection_rules(repo)
    assert rules == []
    new_etag = catalog.set_protection_rules(repo, [BranchProtectionRule("prod-*")], if_match=etag)
    with pytest.raises(PreconditionFailed):
        catalog.set_protection_rules(repo, [], if_match=etag)
    assert catalog.protection_rules(repo) == ([BranchProtectionRule("prod-*")], new_etag)


def test_gc_rules_round_trip(catalog: Catalog, repo: str) -> None:
    with pytest.raises(NotFound):
        catalog.gc_rules(repo)
    rules = GarbageCollectionRules(default_retention_days=7, branches={"main": 30})
    catalog.set_gc_rules(repo, rules)
    assert catalog.gc_rules(repo) == rules
    catalog.delete_gc_rules(repo)
    with pytest.raises(NotFound):
        catalog.gc_rules(repo)
