"""Repositories: creation, listing, deletion, validation."""

from __future__ import annotations

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import AlreadyExists, InvalidValue, NotFound

from .support import paths, put


def test_new_repository_has_default_branch_with_initial_commit(
    catalog: Catalog, namespace: str
) -> None:
    repo = catalog.create_repository("events", namespace, "trunk")
    assert repo.default_branch == "trunk"
    assert repo.storage_namespace == namespace
    head = catalog.get_commit("events", "trunk")
    assert head.message == "Repository created"
    assert head.parents == ()
    assert head.generation == 1
    assert paths(catalog, "events", "trunk") == []


def test_bare_repository_has_no_branches(catalog: Catalog, namespace: str) -> None:
    catalog.create_repository("bare-one", namespace, bare=True)
    assert catalog.list_branches("bare-one").results == []


@pytest.mark.parametrize(
    "bad_id", ["ab", "Upper", "-start", "has_underscore", "x" * 64, "sp ace", ""]
)
def test_invalid_repository_ids_are_refused(catalog: Catalog, namespace: str, bad_id: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.create_repository(bad_id, namespace)


def test_creating_an_existing_repository_fails(catalog: Catalog, repo: str, namespace: str) -> None:
    with pytest.raises(AlreadyExists):
        catalog.create_repository(repo, namespace)


def test_unknown_repository_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        catalog.get_repository("nope-repo")
    with pytest.raises(NotFound):
        catalog.list_entries("nope-repo", "main")


def test_list_repositories_pages_with_prefix_and_after(catalog: Catalog, namespace: str) -> None:
    for name in ["alpha-1", "alpha-2", "alpha-3", "beta-1"]:
        catalog.create_repository(name, namespace)
    first = catalog.list_repositories(prefix="alpha", amount=2)
    assert [r.id for r in first.results] == ["alpha-1", "alpha-2"]
    assert first.has_more
    assert first.next_after == "alpha-2"
    rest = catalog.list_repositories(prefix="alpha", after=first.next_after, amount=2)
    assert [r.id for r in rest.results] == ["alpha-3"]
    assert not rest.has_more
    assert [r.id for r in catalog.list_repositories(search="ta-").results] == ["beta-1"]


def test_deleted_then_recreated_repository_sees_nothing_old(
    catalog: Catalog, repo: str, namespace: str
) -> None:
    put(catalog, repo, "main", "old.txt", "old")
    catalog.commit(repo, "main", "old", "tester")
    catalog.create_branch(repo, "feature", "main")
    catalog.create_tag(repo, "v1", "main")
    catalog.delete_repository(repo)
    with pytest.raises(NotFound):
        catalog.get_repository(repo)
    catalog.create_repository(repo, namespace)
    assert paths(catalog, repo, "main") == []
    assert [b.id for b in catalog.list_branches(repo).results] == ["main"]
    assert catalog.list_tags(repo).results == []


def test_repository_metadata_merges_and_deletes_keys(catalog: Catalog, repo: str) -> None:
    catalog.set_repository_metadata(repo, {"team": "data", "tier": "gold"})
    catalog.set_repository_metadata(repo, {"tier": "silver"})
    assert catalog.get_repository_metadata(repo) == {"team": "data", "tier": "silver"}
    catalog.delete_repository_metadata(repo, ["team"])
    assert catalog.get_repository_metadata(repo) == {"tier": "silver"}


@pytest.mark.parametrize(
    "storage_namespace", ["", "no-scheme", "ftp://elsewhere/repo", "mem://../up", "mem://"]
)
def test_storage_namespace_must_be_served_by_the_block_store(
    catalog: Catalog, storage_namespace: str
) -> None:
    with pytest.raises(InvalidValue):
        catalog.create_repository("events", storage_namespace)
