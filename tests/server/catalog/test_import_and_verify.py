"""Zero-copy import and fsck."""

from __future__ import annotations

import hashlib
from typing import Any

from lakever_server.catalog.catalog import Catalog

from .support import commit_files, paths, put, read


def test_import_links_every_blob_under_a_prefix_in_one_commit(
    catalog: Catalog, repo: str, stores: tuple[Any, Any, str]
) -> None:
    _, block, namespace = stores
    source = namespace.rsplit("/", 1)[0] + "/external/raw/"
    for name in ["b.csv", "a.csv", "sub/c.csv"]:
        block.put(source + name, [name.encode()])
    put(catalog, repo, "main", "staged", "stays staged")
    before = catalog.get_branch(repo, "main").commit_id
    commit = catalog.import_from(repo, "main", source, "imported/", "importer")
    assert commit.parents == (before,)
    assert paths(catalog, repo, "main@") == [
        "imported/a.csv",
        "imported/b.csv",
        "imported/sub/c.csv",
    ]
    entry = catalog.get_entry(repo, "main", "imported/sub/c.csv")
    assert entry.physical_address == source + "sub/c.csv"
    assert entry.checksum == hashlib.md5(b"sub/c.csv").hexdigest()
    assert read(catalog, repo, "main", "imported/a.csv") == b"a.csv"
    assert "staged" in paths(catalog, repo, "main")


def test_import_keeps_existing_committed_entries(
    catalog: Catalog, repo: str, stores: tuple[Any, Any, str]
) -> None:
    _, block, namespace = stores
    commit_files(catalog, repo, "main", {"existing": "1", "imported/x": "old"})
    source = namespace.rsplit("/", 1)[0] + "/ext/"
    block.put(source + "x", [b"new"])
    catalog.import_from(repo, "main", source, "imported/", "importer")
    assert paths(catalog, repo, "main") == ["existing", "imported/x"]
    assert read(catalog, repo, "main", "imported/x") == b"new"


def test_verify_reports_nothing_on_a_healthy_repository(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    catalog.create_branch(repo, "run", "main")
    commit_files(catalog, repo, "run", {"b": "1"})
    catalog.merge(repo, "run", "main", "me")
    catalog.create_tag(repo, "v1", "main")
    put(catalog, repo, "main", "staged", "x")
    assert catalog.verify(repo) == []


def test_verify_reports_missing_content_and_missing_commits(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    entry = catalog.get_entry(repo, "main", "a")
    catalog.block.delete(entry.physical_address)
    problems = catalog.verify(repo)
    assert len(problems) == 1
    assert "content missing" in problems[0]
    record = catalog.graveler.get_repository(repo)
    parent = catalog.get_commit(repo, "main~1").id
    catalog.kv.delete(f"graveler/repo/{record.instance_id}", b"commit/" + parent.encode())
    restarted = Catalog(catalog.kv, catalog.block)  # no cached commits
    assert any(parent in p for p in restarted.verify(repo))


def test_verify_reports_missing_tree_nodes(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {f"k{i}": str(i) for i in range(20)})
    root = catalog.get_commit(repo, "main").meta_range_id
    fresh = Catalog(catalog.kv, catalog.block)  # a cold node cache, as after a restart
    store = fresh.graveler.tree_for(catalog.get_repository(repo).storage_namespace).store
    catalog.block.delete(store.address(root))  # type: ignore[attr-defined]
    problems = fresh.verify(repo)
    assert problems
    assert any(root in p for p in problems)


def test_verify_accepts_a_bare_repository_but_not_a_lost_default_branch(
    catalog: Catalog, repo: str, namespace: str
) -> None:
    catalog.create_repository("bare-repo", namespace + "-bare", bare=True)
    assert catalog.verify("bare-repo") == []
    catalog.create_branch(repo, "other", "main")
    record = catalog.graveler.get_repository(repo)
    catalog.kv.delete(f"graveler/repo/{record.instance_id}", b"branch/main")
    assert catalog.verify(repo) == ["default branch main is missing"]
