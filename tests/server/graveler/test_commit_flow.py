"""The commit flow: sealing, writes during a commit, interruptions at every step."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import NoChanges
from lakever_server.graveler import commits
from lakever_server.graveler.tree import Tree

REPO = "repo1"


def _paths(catalog: Catalog, ref: str) -> list[str]:
    return [e.path for e in catalog.list_entries(REPO, ref).results]


def _put(catalog: Catalog, path: str, data: str = "x", branch: str = "main") -> None:
    catalog.write_object(REPO, branch, path, [data.encode()])


class Interrupted(Exception):
    """Stands for a crash at a chosen step."""


def _hook_apply(catalog: Catalog, before: Callable[[], None]) -> Tree:
    """Run ``before`` inside the commit, between sealing and building the tree."""
    tree = catalog.graveler.tree_for(catalog.get_repository(REPO).storage_namespace)
    original = tree.apply

    def apply(root: str, changes: Iterable[tuple[bytes, bytes | None]]) -> str:
        before()
        return original(root, changes)

    tree.apply = apply  # type: ignore[method-assign]
    return tree


def test_writes_during_a_commit_are_kept(catalog: Catalog) -> None:
    _put(catalog, "before")
    done: list[bool] = []

    def write_while_committing() -> None:
        if not done:
            done.append(True)
            _put(catalog, "during")
            catalog.delete_object(REPO, "main", "before")  # staged again in the new token

    _hook_apply(catalog, write_while_committing)
    commit = catalog.commit(REPO, "main", "first", "me")
    assert _paths(catalog, commit.id) == ["before"]
    assert _paths(catalog, "main") == ["during"]
    catalog.commit(REPO, "main", "second", "me")
    assert _paths(catalog, "main@") == ["during"]


def test_commit_interrupted_after_sealing_keeps_changes_visible(catalog: Catalog) -> None:
    _put(catalog, "sealed")

    def crash() -> None:
        raise Interrupted

    tree = _hook_apply(catalog, crash)
    head = catalog.get_branch(REPO, "main").commit_id
    with pytest.raises(Interrupted):
        catalog.commit(REPO, "main", "lost", "me")
    del tree.apply  # back to the real method
    record = catalog.graveler.get_branch(REPO, "main")
    assert len(record.sealed_tokens) == 1
    assert catalog.get_branch(REPO, "main").commit_id == head
    assert _paths(catalog, "main") == ["sealed"]
    assert [d.path for d in catalog.diff_uncommitted(REPO, "main").results] == ["sealed"]
    _put(catalog, "after")
    commit = catalog.commit(REPO, "main", "recovers", "me")
    assert _paths(catalog, commit.id) == ["after", "sealed"]
    assert catalog.graveler.get_branch(REPO, "main").sealed_tokens == ()
    assert catalog.verify(REPO) == []


def test_commit_interrupted_before_moving_the_head_changes_nothing(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(catalog, "a")
    head = catalog.get_branch(REPO, "main").commit_id
    real_new_commit = commits.new_commit

    def record_then_crash(*args: object, **kwargs: object) -> object:
        real_new_commit(*args, **kwargs)  # type: ignore[arg-type]
        raise Interrupted

    monkeypatch.setattr(commits, "new_commit", record_then_crash)
    with pytest.raises(Interrupted):
        catalog.commit(REPO, "main", "m", "me")
    monkeypatch.undo()
    assert catalog.get_branch(REPO, "main").commit_id == head
    assert _paths(catalog, "main") == ["a"]
    assert catalog.verify(REPO) == []
    assert _paths(catalog, catalog.commit(REPO, "main", "again", "me").id) == ["a"]


def test_a_concurrent_commit_from_another_server_includes_sealed_changes(
    catalog: Catalog,
) -> None:
    """Two catalogs share the stores but not the in-process lock: only CAS protects."""
    other = Catalog(catalog.kv, catalog.block)
    _put(catalog, "one")
    ran: list[bool] = []

    def commit_from_other() -> None:
        if not ran:
            ran.append(True)
            _put(other, "two")
            other.commit(REPO, "main", "other wins the race", "them")

    tree = _hook_apply(catalog, commit_from_other)
    with pytest.raises(NoChanges, match="concurrent commit"):
        catalog.commit(REPO, "main", "loses the race", "me")
    del tree.apply
    assert next(c.message for c in catalog.log(REPO, "main").results) == "other wins the race"
    assert _paths(catalog, "main@") == ["one", "two"]
    assert catalog.graveler.get_branch(REPO, "main").sealed_tokens == ()
    assert catalog.verify(REPO) == []


def test_a_commit_that_loses_the_head_race_retries_on_the_new_head(catalog: Catalog) -> None:
    other = Catalog(catalog.kv, catalog.block)
    _put(catalog, "one")
    ran: list[bool] = []

    def move_head_elsewhere() -> None:
        if not ran:  # another server merges into main: the head moves, tokens stay
            ran.append(True)
            other.create_branch(REPO, "side", "main")
            _put(other, "side-file", branch="side")
            other.commit(REPO, "side", "side work", "them")
            record = other.graveler.get_branch(REPO, "main")
            merged = other.graveler.get_commit(REPO, "side")
            raw = other.graveler.refs.get_branch_raw(other.graveler.get_repository(REPO), "main")
            other.graveler.refs.set_branch_if(
                other.graveler.get_repository(REPO),
                "main",
                record.with_changes(commit_id=merged.id),
                raw,
            )

    tree = _hook_apply(catalog, move_head_elsewhere)
    commit = catalog.commit(REPO, "main", "retried", "me")
    del tree.apply
    assert commit.parents == (catalog.get_commit(REPO, "side").id,)
    assert _paths(catalog, "main@") == ["one", "side-file"]


def test_committed_staging_partitions_are_dropped(catalog: Catalog) -> None:
    _put(catalog, "a")
    token = catalog.graveler.get_branch(REPO, "main").staging_token
    catalog.commit(REPO, "main", "m", "me")
    catalog.graveler.staging.wait_for_drops()
    assert list(catalog.kv.scan(f"graveler/staging/{token}")) == []
    assert catalog.graveler.get_branch(REPO, "main").staging_token != token
