"""Commits and the log; ref expressions."""

from __future__ import annotations

import hashlib
import json

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import InvalidValue, NoChanges, NotFound

from .support import commit_files, paths, put


def test_commit_records_parents_committer_metadata_and_generation(
    catalog: Catalog, repo: str
) -> None:
    parent = catalog.get_commit(repo, "main")
    put(catalog, repo, "main", "a", "1")
    commit = catalog.commit(
        repo, "main", "add a", "alice", metadata={"run": "42"}, date=1_700_000_000
    )
    assert commit.parents == (parent.id,)
    assert (commit.committer, commit.message, commit.metadata) == ("alice", "add a", {"run": "42"})
    assert commit.creation_date == 1_700_000_000
    assert commit.generation == parent.generation + 1
    assert catalog.get_branch(repo, "main").commit_id == commit.id


def test_commit_id_is_sha256_of_its_content(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "a", "1")
    c = catalog.commit(repo, "main", "m", "me", metadata={"k": "v"}, date=5)
    content = {
        "parents": list(c.parents),
        "committer": c.committer,
        "message": c.message,
        "creation_date": c.creation_date,
        "meta_range_id": c.meta_range_id,
        "metadata": c.metadata,
        "generation": c.generation,
        "version": c.version,
    }
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    assert c.id == hashlib.sha256(encoded).hexdigest()


def test_commit_without_changes_is_refused_unless_allow_empty(catalog: Catalog, repo: str) -> None:
    with pytest.raises(NoChanges):
        catalog.commit(repo, "main", "nothing", "me")
    empty = catalog.commit(repo, "main", "nothing", "me", allow_empty=True)
    assert catalog.get_branch(repo, "main").commit_id == empty.id


def test_an_empty_commit_keeps_every_committed_object(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1", "b": "2"})
    before = catalog.get_commit(repo, "main")
    empty = catalog.commit(repo, "main", "marker", "me", allow_empty=True)
    assert empty.meta_range_id == before.meta_range_id
    assert paths(catalog, repo, "main") == ["a", "b"]


def test_commit_of_only_no_op_changes_is_refused(catalog: Catalog, repo: str) -> None:
    commit_files(catalog, repo, "main", {"a": "1"})
    entry = catalog.get_entry(repo, "main", "a")
    catalog.stage_entry(repo, "main", entry)  # the same object again
    with pytest.raises(NoChanges):
        catalog.commit(repo, "main", "same", "me")
    assert catalog.diff_uncommitted(repo, "main").results == []


def test_committed_entries_survive_and_staging_is_emptied(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "a", "1")
    put(catalog, repo, "main", "b", "2")
    catalog.commit(repo, "main", "two", "me")
    assert paths(catalog, repo, "main@") == ["a", "b"]
    assert catalog.diff_uncommitted(repo, "main").results == []
    catalog.delete_object(repo, "main", "a")
    catalog.commit(repo, "main", "rm a", "me")
    assert paths(catalog, repo, "main@") == ["b"]


def test_log_lists_history_newest_first_with_paging(catalog: Catalog, repo: str) -> None:
    ids = [commit_files(catalog, repo, "main", {f"f{i}": str(i)}, f"c{i}") for i in range(5)]
    page = catalog.log(repo, "main", amount=3)
    assert [c.id for c in page.results] == ids[::-1][:3]
    assert page.has_more
    rest = catalog.log(repo, "main", amount=3, after=page.next_after)
    assert [c.message for c in rest.results] == ["c1", "c0", "Repository created"]
    limited = catalog.log(repo, "main", amount=2, limit=True)
    assert len(limited.results) == 2
    assert not limited.has_more


def test_log_filters_by_object_and_prefix(catalog: Catalog, repo: str) -> None:
    a = commit_files(catalog, repo, "main", {"data/a": "1"})
    commit_files(catalog, repo, "main", {"other/b": "1"})
    a2 = commit_files(catalog, repo, "main", {"data/a": "2"})
    assert [c.id for c in catalog.log(repo, "main", objects=["data/a"]).results] == [a2, a]
    assert [c.id for c in catalog.log(repo, "main", prefixes=["data/"]).results] == [a2, a]


def test_log_first_parent_stop_at_and_since(catalog: Catalog, repo: str) -> None:
    base = commit_files(catalog, repo, "main", {"a": "1"})
    catalog.create_branch(repo, "side", "main")
    side = commit_files(catalog, repo, "side", {"s": "1"})
    merged = catalog.merge(repo, "side", "main", "me").reference
    first_parent = [c.id for c in catalog.log(repo, "main", first_parent=True).results]
    assert side not in first_parent
    assert first_parent[:2] == [merged, base]
    assert side in [c.id for c in catalog.log(repo, "main").results]
    stopped = [c.id for c in catalog.log(repo, "main", stop_at=base).results]
    assert stopped[-1] == base
    assert len(stopped) == 3
    future = catalog.log(repo, "main", since=4_000_000_000)
    assert future.results == []


def test_ref_expressions_resolve_ancestors_and_parents(catalog: Catalog, repo: str) -> None:
    c1 = commit_files(catalog, repo, "main", {"a": "1"})
    c2 = commit_files(catalog, repo, "main", {"a": "2"})
    catalog.create_branch(repo, "side", c1)
    side = commit_files(catalog, repo, "side", {"s": "1"})
    merged = catalog.merge(repo, "side", "main", "me").reference
    assert catalog.get_commit(repo, "main").id == merged
    assert catalog.get_commit(repo, "main~1").id == c2
    assert catalog.get_commit(repo, "main~2").id == c1
    assert catalog.get_commit(repo, "main^2").id == side
    assert catalog.get_commit(repo, "main^").id == c2
    assert catalog.get_commit(repo, "main^2~1").id == c1
    assert catalog.get_commit(repo, merged[:10]).id == merged
    assert catalog.get_commit(repo, "main@").id == merged


@pytest.mark.parametrize("ref", ["main~x", "main~~-1", "ma in", "main$~1", "@", "main@@", ""])
def test_malformed_ref_expressions_are_invalid(catalog: Catalog, repo: str, ref: str) -> None:
    with pytest.raises(InvalidValue):
        catalog.get_commit(repo, ref)


def test_unknown_refs_and_missing_ancestors_are_not_found(catalog: Catalog, repo: str) -> None:
    for ref in ["nope", "main~5", "main^2", "abcdef12"]:
        with pytest.raises(NotFound):
            catalog.get_commit(repo, ref)


def test_ambiguous_commit_prefix_is_invalid(catalog: Catalog, repo: str) -> None:
    ids = [commit_files(catalog, repo, "main", {"f": str(i)}) for i in range(40)]
    first_digits = [commit_id[0] for commit_id in ids]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)  # 40 ids, 16 digits
    record = catalog.graveler.get_repository(repo)
    with pytest.raises(InvalidValue):
        catalog.graveler.refs.find_commit_by_prefix(record, shared)


def test_log_since_keeps_only_newer_commits(catalog: Catalog, repo: str) -> None:
    created = catalog.get_commit(repo, "main").creation_date
    dates = [created + 1000, created + 2000, created + 3000]
    for day, date in enumerate(dates):
        put(catalog, repo, "main", f"day-{day}", str(day))
        catalog.commit(repo, "main", f"day {day}", "me", date=date)
    newer = catalog.log(repo, "main", since=dates[1])
    assert [c.message for c in newer.results] == ["day 2", "day 1"]
