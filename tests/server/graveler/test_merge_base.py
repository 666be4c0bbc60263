"""Merge base by generation, including criss-cross histories."""

from __future__ import annotations

from lakever_server.catalog.catalog import Catalog

REPO = "repo1"


def _commit(catalog: Catalog, branch: str, path: str) -> str:
    catalog.write_object(REPO, branch, path, [path.encode()])
    return catalog.commit(REPO, branch, path, "me").id


def test_merge_base_of_a_commit_and_its_ancestor_is_the_ancestor(catalog: Catalog) -> None:
    first = _commit(catalog, "main", "a")
    _commit(catalog, "main", "b")
    base, _, _ = catalog.find_merge_base(REPO, first, "main")
    assert base == first


def test_merge_base_after_merging_both_ways(catalog: Catalog) -> None:
    _commit(catalog, "main", "root")
    catalog.create_branch(REPO, "dev", "main")
    _commit(catalog, "main", "m1")
    _commit(catalog, "dev", "d1")
    catalog.merge(REPO, "main", "dev", "me")  # dev now contains m1
    merged_into_dev = catalog.get_branch(REPO, "dev").commit_id
    m1 = catalog.get_branch(REPO, "main").commit_id
    assert catalog.find_merge_base(REPO, "dev", "main")[0] == m1
    catalog.merge(REPO, "dev", "main", "me")
    assert catalog.find_merge_base(REPO, "dev", "main")[0] == merged_into_dev


def test_criss_cross_merge_picks_a_nearest_common_ancestor(catalog: Catalog) -> None:
    _commit(catalog, "main", "root")
    catalog.create_branch(REPO, "dev", "main")
    a = _commit(catalog, "main", "a")
    b = _commit(catalog, "dev", "b")
    catalog.create_branch(REPO, "tmp", "main")
    catalog.merge(REPO, b, "main", "me")
    catalog.merge(REPO, a, "dev", "me")
    base = catalog.find_merge_base(REPO, "dev", "main")[0]
    assert base in {a, b}
    catalog.write_object(REPO, "dev", "c", [b"c"])
    catalog.commit(REPO, "dev", "c", "me")
    catalog.merge(REPO, "dev", "main", "me")
    paths = [e.path for e in catalog.list_entries(REPO, "main").results]
    assert paths == ["a", "b", "c", "root"]
