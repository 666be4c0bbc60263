"""Read-only repositories: every change is refused unless forced; reads and settings work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import BranchProtectionRule
from lakever_server.errors import Forbidden, ReadOnlyRepository

from .support import paths, put, read

REPO = "frozen"
Write = Callable[[Catalog, bool], object]


@pytest.fixture
def frozen(catalog: Catalog, namespace: str) -> str:
    """A read-only repository with ``a`` on main, branch ``dev`` (ahead by ``b``) and tag
    ``v1``, all written with ``force``."""
    catalog.create_repository(REPO, namespace + "-frozen", "main", read_only=True)
    catalog.write_object(REPO, "main", "a", [b"1"], force=True)
    catalog.commit(REPO, "main", "change", "tester", force=True)
    catalog.create_branch(REPO, "dev", "main", force=True)
    catalog.write_object(REPO, "dev", "b", [b"2"], force=True)
    catalog.commit(REPO, "dev", "change", "tester", force=True)
    catalog.create_tag(REPO, "v1", "main", force=True)
    assert catalog.get_repository(REPO).read_only
    return REPO


WRITES: dict[str, Write] = {
    "upload": lambda c, f: c.write_object(REPO, "main", "new", [b"x"], force=f),
    "stage an entry": lambda c, f: c.stage_entry(
        REPO, "main", replace(c.get_entry(REPO, "main", "a"), path="linked"), force=f
    ),
    "copy": lambda c, f: c.copy_object(REPO, "main", "a", "main", "a-copy", force=f),
    "delete an object": lambda c, f: c.delete_object(REPO, "main", "a", force=f),
    "delete objects": lambda c, f: c.delete_objects(REPO, "main", ["a"], force=f),
    "commit": lambda c, f: c.commit(REPO, "main", "m", "t", allow_empty=True, force=f),
    "create a branch": lambda c, f: c.create_branch(REPO, "feature", "main", force=f),
    "delete a branch": lambda c, f: c.delete_branch(REPO, "dev", force=f),
    "reset a branch": lambda c, f: c.reset_branch(REPO, "main", force=f),
    "hard-reset a branch": lambda c, f: c.hard_reset_branch(REPO, "dev", "main", force=f),
    "merge": lambda c, f: c.merge(REPO, "dev", "main", "t", force=f),
    "revert": lambda c, f: c.revert(REPO, "dev", ["dev"], "t", force=f),
    "cherry-pick": lambda c, f: c.cherry_pick(REPO, "main", "dev", "t", force=f),
    "create a tag": lambda c, f: c.create_tag(REPO, "v2", "main", force=f),
    "delete a tag": lambda c, f: c.delete_tag(REPO, "v1", force=f),
    "delete the repository": lambda c, f: c.delete_repository(REPO, force=f),
}


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
def test_a_read_only_repository_refuses_the_write_unless_forced(
    catalog: Catalog, frozen: str, write: Write
) -> None:
    main_before = catalog.get_branch(frozen, "main").commit_id
    with pytest.raises(ReadOnlyRepository) as refused:
        write(catalog, False)
    assert isinstance(refused.value, Forbidden)
    assert refused.value.message == "read-only repository"
    assert catalog.get_branch(frozen, "main").commit_id == main_before
    assert paths(catalog, frozen, "main") == ["a"]
    write(catalog, True)


def test_metadata_updates_have_no_force_and_are_refused(catalog: Catalog, frozen: str) -> None:
    with pytest.raises(ReadOnlyRepository):
        catalog.update_object_metadata(frozen, "main", "a", {"k": "v"})
    assert catalog.get_entry(frozen, "main", "a").metadata == {}


def test_reads_and_settings_still_work_on_a_read_only_repository(
    catalog: Catalog, frozen: str
) -> None:
    assert read(catalog, frozen, "v1", "a") == b"1"
    assert paths(catalog, frozen, "dev") == ["a", "b"]
    assert [d.path for d in catalog.diff_refs(frozen, "main", "dev").results] == ["b"]
    assert catalog.log(frozen, "dev").results[0].message == "change"
    catalog.set_protection_rules(frozen, [BranchProtectionRule(pattern="main")])
    catalog.set_repository_metadata(frozen, {"owner": "data-team"})
    assert catalog.get_repository_metadata(frozen) == {"owner": "data-team"}


def test_created_read_only_and_other_repositories_unaffected(
    catalog: Catalog, namespace: str, repo: str
) -> None:
    created = catalog.create_repository("archive", namespace + "-archive", read_only=True)
    assert created.read_only
    with pytest.raises(ReadOnlyRepository):
        put(catalog, "archive", "main", "x", "1")
    put(catalog, repo, "main", "x", "1")
    assert paths(catalog, repo, "main") == ["x"]
