"""The core API through ``lakefs_sdk``, unchanged, on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import json
from typing import Any

import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from tests.support.server import RunningServer

_names = itertools.count()


@pytest.fixture(scope="module")
def sdk(api_server: RunningServer) -> LakeFSClient:
    client: LakeFSClient = api_server.lakefs_sdk_client()
    return client


@pytest.fixture
def repo(sdk: LakeFSClient) -> str:
    name = f"repo-{next(_names)}"
    sdk.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(name=name, storage_namespace=f"local://{name}")
    )
    return name


def upload(sdk: LakeFSClient, repo: str, branch: str, path: str, content: bytes) -> Any:
    return sdk.objects_api.upload_object(repo, branch, path, content=content)


def read(sdk: LakeFSClient, repo: str, ref: str, path: str) -> bytes:
    return bytes(sdk.objects_api.get_object(repo, ref, path))


def commit(sdk: LakeFSClient, repo: str, branch: str, message: str, **kwargs: Any) -> Any:
    return sdk.commits_api.commit(
        repo, branch, lakefs_sdk.CommitCreation(message=message, **kwargs)
    )


def error_of(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def test_repository_create_get_list_and_delete(sdk: LakeFSClient) -> None:
    created = sdk.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(
            name="lifecycle", storage_namespace="local://lifecycle", default_branch="trunk"
        )
    )
    assert (created.id, created.default_branch) == ("lifecycle", "trunk")
    assert isinstance(created.creation_date, int)
    assert sdk.repositories_api.get_repository("lifecycle").storage_namespace == (
        "local://lifecycle"
    )
    ids = [r.id for r in sdk.repositories_api.list_repositories(prefix="life").results]
    assert ids == ["lifecycle"]
    status, body = error_of(
        lambda: sdk.repositories_api.create_repository(
            lakefs_sdk.RepositoryCreation(name="lifecycle", storage_namespace="local://other")
        )
    )
    assert status == 409
    assert body["message"]
    sdk.repositories_api.delete_repository("lifecycle")
    assert error_of(lambda: sdk.repositories_api.get_repository("lifecycle"))[0] == 404


def test_repository_listing_pages_with_after_and_amount(sdk: LakeFSClient) -> None:
    for suffix in "abc":
        sdk.repositories_api.create_repository(
            lakefs_sdk.RepositoryCreation(
                name=f"paged-{suffix}", storage_namespace=f"local://paged-{suffix}"
            )
        )
    first = sdk.repositories_api.list_repositories(prefix="paged-", amount=2)
    assert [r.id for r in first.results] == ["paged-a", "paged-b"]
    assert first.pagination.has_more
    assert first.pagination.max_per_page == 1000
    rest = sdk.repositories_api.list_repositories(
        prefix="paged-", after=first.pagination.next_offset, amount=2
    )
    assert [r.id for r in rest.results] == ["paged-c"]
    assert not rest.pagination.has_more
    assert rest.pagination.next_offset == ""


def test_bare_repository_has_no_default_branch_commit(sdk: LakeFSClient) -> None:
    sdk.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(name="bare-one", storage_namespace="local://bare-one"),
        bare=True,
    )
    assert error_of(lambda: sdk.branches_api.get_branch("bare-one", "main"))[0] == 404


def test_repository_metadata_is_set_read_and_deleted(sdk: LakeFSClient, repo: str) -> None:
    api = lakefs_sdk.InternalApi(sdk._api)
    api.set_repository_metadata(repo, lakefs_sdk.RepositoryMetadataSet(metadata={"team": "ml"}))
    assert sdk.repositories_api.get_repository_metadata(repo) == {"team": "ml"}
    api.delete_repository_metadata(repo, lakefs_sdk.RepositoryMetadataKeys(keys=["team"]))
    assert sdk.repositories_api.get_repository_metadata(repo) == {}


def test_branch_create_returns_the_commit_id_and_is_zero_copy(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "data/a.csv", b"a,b\n1,2\n")
    head = commit(sdk, repo, "main", "first data")
    created = sdk.branches_api.create_branch(
        repo, lakefs_sdk.BranchCreation(name="feature", source="main")
    )
    assert created == head.id
    assert sdk.branches_api.get_branch(repo, "feature").commit_id == head.id
    assert read(sdk, repo, "feature", "data/a.csv") == b"a,b\n1,2\n"
    names = [b.id for b in sdk.branches_api.list_branches(repo).results]
    assert names == ["feature", "main"]
    sdk.branches_api.delete_branch(repo, "feature")
    assert error_of(lambda: sdk.branches_api.get_branch(repo, "feature"))[0] == 404


def test_uncommitted_diff_reset_and_hard_reset(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "keep.txt", b"keep")
    first = commit(sdk, repo, "main", "keep")
    upload(sdk, repo, "main", "tmp/x.txt", b"x")
    upload(sdk, repo, "main", "tmp/y.txt", b"y")
    diff = sdk.branches_api.diff_branch(repo, "main")
    assert sorted((d.path, d.type) for d in diff.results) == [
        ("tmp/x.txt", "added"),
        ("tmp/y.txt", "added"),
    ]
    sdk.branches_api.reset_branch(
        repo, "main", lakefs_sdk.ResetCreation(type="object", path="tmp/x.txt")
    )
    assert [d.path for d in sdk.branches_api.diff_branch(repo, "main").results] == ["tmp/y.txt"]
    sdk.branches_api.reset_branch(repo, "main", lakefs_sdk.ResetCreation(type="reset"))
    assert sdk.branches_api.diff_branch(repo, "main").results == []
    upload(sdk, repo, "main", "second.txt", b"2")
    commit(sdk, repo, "main", "second")
    sdk.experimental_api.hard_reset_branch(repo, "main", first.id)
    assert sdk.branches_api.get_branch(repo, "main").commit_id == first.id


def test_commit_records_committer_metadata_and_date(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "a.txt", b"a")
    created = commit(
        sdk, repo, "main", "with metadata", metadata={"run": "42"}, var_date=1700000000
    )
    assert created.committer == "admin"
    assert created.metadata == {"run": "42"}
    assert created.creation_date == 1700000000
    assert sdk.commits_api.get_commit(repo, created.id).message == "with metadata"
    assert sdk.commits_api.get_commit(repo, "main").id == created.id
    assert sdk.commits_api.get_commit(repo, "main~1").id == created.parents[0]


def test_empty_commit_is_400_unless_allowed(sdk: LakeFSClient, repo: str) -> None:
    status, body = error_of(lambda: commit(sdk, repo, "main", "nothing"))
    assert status == 400
    assert body["message"]
    allowed = commit(sdk, repo, "main", "nothing, on purpose", allow_empty=True)
    assert allowed.message == "nothing, on purpose"


def test_log_pages_and_filters_by_object(sdk: LakeFSClient, repo: str) -> None:
    for index in range(3):
        upload(sdk, repo, "main", f"f{index}.txt", b"%d" % index)
        commit(sdk, repo, "main", f"c{index}")
    log = sdk.refs_api.log_commits(repo, "main", amount=2)
    assert [c.message for c in log.results] == ["c2", "c1"]
    assert log.pagination.has_more
    rest = sdk.refs_api.log_commits(repo, "main", after=log.pagination.next_offset, amount=10)
    assert [c.message for c in rest.results] == ["c0", "Repository created"]
    touching = sdk.refs_api.log_commits(repo, "main", objects=["f1.txt"])
    assert [c.message for c in touching.results] == ["c1"]


def test_diff_refs_two_dot_and_three_dot(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "base.txt", b"base")
    commit(sdk, repo, "main", "base")
    sdk.branches_api.create_branch(repo, lakefs_sdk.BranchCreation(name="dev", source="main"))
    upload(sdk, repo, "dev", "dev.txt", b"dev")
    commit(sdk, repo, "dev", "dev change")
    upload(sdk, repo, "main", "main.txt", b"main")
    commit(sdk, repo, "main", "main change")
    three = sdk.refs_api.diff_refs(repo, "main", "dev")
    assert [(d.path, d.type, d.path_type) for d in three.results] == [
        ("dev.txt", "added", "object")
    ]
    two = sdk.refs_api.diff_refs(repo, "main", "dev", type="two_dot")
    assert sorted((d.path, d.type) for d in two.results) == [
        ("dev.txt", "added"),
        ("main.txt", "removed"),
    ]


def test_merge_and_merge_base(sdk: LakeFSClient, repo: str) -> None:
    base = sdk.branches_api.get_branch(repo, "main").commit_id
    sdk.branches_api.create_branch(repo, lakefs_sdk.BranchCreation(name="etl", source="main"))
    upload(sdk, repo, "etl", "out/part-0.csv", b"x")
    source = commit(sdk, repo, "etl", "etl run")
    found = sdk.refs_api.find_merge_base(repo, "etl", "main")
    assert (found.base_commit_id, found.source_commit_id) == (base, source.id)
    merged = sdk.refs_api.merge_into_branch(
        repo, "etl", "main", merge=lakefs_sdk.Merge(message="merge etl", metadata={"k": "v"})
    )
    merge_commit = sdk.commits_api.get_commit(repo, merged.reference)
    assert merge_commit.parents == [base, source.id]
    assert read(sdk, repo, "main", "out/part-0.csv") == b"x"


def test_merge_reports_every_conflicting_path(sdk: LakeFSClient, repo: str) -> None:
    sdk.branches_api.create_branch(repo, lakefs_sdk.BranchCreation(name="left", source="main"))
    for path in ("a.txt", "b.txt"):
        upload(sdk, repo, "left", path, b"left")
        upload(sdk, repo, "main", path, b"main")
    commit(sdk, repo, "left", "left")
    commit(sdk, repo, "main", "main")
    status, body = error_of(lambda: sdk.refs_api.merge_into_branch(repo, "left", "main"))
    assert status == 409
    assert sorted(c["path"] for c in body["conflicts"]) == ["a.txt", "b.txt"]
    merged = sdk.refs_api.merge_into_branch(
        repo, "left", "main", merge=lakefs_sdk.Merge(strategy="source-wins")
    )
    assert read(sdk, repo, merged.reference, "a.txt") == b"left"


def test_revert_and_cherry_pick(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "bad.csv", b"bad")
    bad = commit(sdk, repo, "main", "bad data")
    sdk.branches_api.revert_branch(
        repo, "main", lakefs_sdk.RevertCreation(ref=bad.id, parent_number=0)
    )
    assert error_of(lambda: sdk.objects_api.stat_object(repo, "main", "bad.csv"))[0] == 404
    sdk.branches_api.create_branch(repo, lakefs_sdk.BranchCreation(name="pick", source="main"))
    picked = sdk.branches_api.cherry_pick(repo, "pick", lakefs_sdk.CherryPickCreation(ref=bad.id))
    assert picked.metadata["cherry-pick-origin"] == bad.id
    assert read(sdk, repo, "pick", "bad.csv") == b"bad"


def test_tags_create_get_list_and_delete(sdk: LakeFSClient, repo: str) -> None:
    head = sdk.branches_api.get_branch(repo, "main").commit_id
    created = sdk.tags_api.create_tag(repo, lakefs_sdk.TagCreation(id="v1", ref="main"))
    assert (created.id, created.commit_id) == ("v1", head)
    assert sdk.tags_api.get_tag(repo, "v1").commit_id == head
    assert [t.id for t in sdk.tags_api.list_tags(repo).results] == ["v1"]
    assert (
        error_of(
            lambda: sdk.tags_api.create_tag(repo, lakefs_sdk.TagCreation(id="v1", ref="main"))
        )[0]
        == 409
    )
    sdk.tags_api.delete_tag(repo, "v1")
    assert error_of(lambda: sdk.tags_api.get_tag(repo, "v1"))[0] == 404


def test_objects_upload_stat_list_copy_delete(sdk: LakeFSClient, repo: str) -> None:
    stats = upload(sdk, repo, "main", "dir/one.txt", b"one")
    assert (stats.path, stats.size_bytes, stats.path_type) == ("dir/one.txt", 3, "object")
    assert stats.checksum == "f97c5d29941bfb1b2fdab0874906ab82"  # md5("one")
    upload(sdk, repo, "main", "dir/sub/two.txt", b"two")
    upload(sdk, repo, "main", "top.txt", b"top")
    listed = sdk.objects_api.list_objects(repo, "main", delimiter="/", prefix="dir/")
    assert [(o.path, o.path_type) for o in listed.results] == [
        ("dir/one.txt", "object"),
        ("dir/sub/", "common_prefix"),
    ]
    copied = sdk.objects_api.copy_object(
        repo, "main", "copy.txt", lakefs_sdk.ObjectCopyCreation(src_path="dir/one.txt")
    )
    assert copied.checksum == stats.checksum
    assert read(sdk, repo, "main", "copy.txt") == b"one"
    sdk.objects_api.delete_object(repo, "main", "copy.txt")
    assert error_of(lambda: sdk.objects_api.stat_object(repo, "main", "copy.txt"))[0] == 404
    errors = sdk.objects_api.delete_objects(
        repo, "main", lakefs_sdk.PathList(paths=["dir/one.txt", "top.txt"])
    )
    assert errors.errors == []
    remaining = [o.path for o in sdk.objects_api.list_objects(repo, "main").results]
    assert remaining == ["dir/sub/two.txt"]


def test_user_metadata_is_stored_and_updated(sdk: LakeFSClient, repo: str) -> None:
    upload(sdk, repo, "main", "meta.txt", b"m")
    sdk.objects_api.update_object_user_metadata(
        repo,
        "main",
        "meta.txt",
        lakefs_sdk.UpdateObjectUserMetadata(set={"owner": "data-team"}),
    )
    stat = sdk.objects_api.stat_object(repo, "main", "meta.txt")
    assert stat.metadata == {"owner": "data-team"}
    without = sdk.objects_api.stat_object(repo, "main", "meta.txt", user_metadata=False)
    assert not without.metadata


def test_protected_branch_refuses_direct_writes_but_accepts_merges(
    sdk: LakeFSClient, repo: str
) -> None:
    sdk.branches_api.create_branch(repo, lakefs_sdk.BranchCreation(name="work", source="main"))
    sdk.repositories_api.set_branch_protection_rules(
        repo, [lakefs_sdk.BranchProtectionRule(pattern="main")]
    )
    status, body = error_of(lambda: upload(sdk, repo, "main", "x.txt", b"x"))
    assert (status, body["message"]) == (403, "cannot write to protected branch")
    assert error_of(lambda: commit(sdk, repo, "main", "x", allow_empty=True))[0] == 403
    assert error_of(lambda: sdk.branches_api.delete_branch(repo, "main"))[0] == 403
    upload(sdk, repo, "work", "x.txt", b"x")
    commit(sdk, repo, "work", "work")
    sdk.refs_api.merge_into_branch(repo, "work", "main")
    assert read(sdk, repo, "main", "x.txt") == b"x"


def test_branch_protection_settings_use_etags(api_server: RunningServer, repo: str) -> None:
    path = f"/repositories/{repo}/settings/branch_protection"
    with api_server.http() as http:
        current = http.get(path)
        assert current.json() == []
        etag = current.headers["ETag"]
        stale = http.put(path, json=[{"pattern": "x"}], headers={"If-Match": '"stale"'})
        assert stale.status_code == 412
        assert stale.json()["message"]
        updated = http.put(path, json=[{"pattern": "main"}], headers={"If-Match": etag})
        assert updated.status_code == 204
        assert http.get(path).json() == [{"pattern": "main"}]
        again = http.put(path, json=[], headers={"If-Match": etag})
        assert again.status_code == 412


def test_gc_rules_round_trip(sdk: LakeFSClient, repo: str) -> None:
    rules = lakefs_sdk.GarbageCollectionRules(
        default_retention_days=21,
        branches=[lakefs_sdk.GarbageCollectionRule(branch_id="main", retention_days=7)],
    )
    sdk.repositories_api.set_gc_rules(repo, rules)
    assert sdk.repositories_api.get_gc_rules(repo) == rules
    sdk.repositories_api.delete_gc_rules(repo)
    assert error_of(lambda: sdk.repositories_api.get_gc_rules(repo))[0] == 404


def test_actions_runs_are_empty(sdk: LakeFSClient, repo: str) -> None:
    runs = sdk.actions_api.list_repository_runs(repo)
    assert runs.results == []
    assert not runs.pagination.has_more
    assert error_of(lambda: sdk.actions_api.get_run(repo, "nope"))[0] == 404
