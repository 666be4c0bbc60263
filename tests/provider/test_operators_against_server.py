"""Each operator's decisions against a real server: reuse, refuse, revert, clean up.

Operators run their ``execute`` with a task context made of plain values (the task
instance fields they read); the server, the SDK and the hook are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pendulum
import pytest
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.models.branch_creation import BranchCreation
from lakefs_sdk.models.commit_creation import CommitCreation

from airflow_provider_lakever.exceptions import (
    BranchExistsElsewhereError,
    LakeverError,
    MergeConflictError,
)
from airflow_provider_lakever.links.lakever import (
    LakeverBranchLink,
    LakeverCommitLink,
    LakeverDiffLink,
)
from airflow_provider_lakever.operators.branch import (
    CreateBranchOperator,
    DeleteBranchOperator,
    TagOperator,
)
from airflow_provider_lakever.operators.commit import CommitOperator
from airflow_provider_lakever.operators.merge import MergeOperator
from airflow_provider_lakever.operators.objects import (
    DiffOperator,
    GetObjectOperator,
    UploadOperator,
)
from airflow_provider_lakever.operators.revert import RevertOperator
from tests.provider.integration import (
    airflow_connection,
    branch_names,
    create_repository,
    head,
    paths,
)
from tests.server.ui.ui_client import followed_link
from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)

REPO = "operators"


@dataclass(frozen=True)
class TaskInstanceFields:
    dag_id: str = "operators_dag"
    run_id: str = "manual__2026-11-21T00:00:00+00:00"
    task_id: str = "task"
    try_number: int = 1
    map_index: int = -1
    log_url: str = "http://airflow.example:8080/dags/operators_dag/runs/r/tasks/task"


def context(**ti_fields: Any) -> Any:
    return {
        "ti": TaskInstanceFields(**ti_fields),
        "logical_date": pendulum.datetime(2026, 11, 21, tz="UTC"),
    }


@pytest.fixture(scope="module")
def client(lakever_server: RunningServer) -> Iterator[LakeFSClient]:  # noqa: F811
    sdk = create_repository(lakever_server, REPO)
    with airflow_connection("lakever_default", lakever_server.url, lakever_server):
        yield sdk


def _stage_and_commit(client: LakeFSClient, branch: str, path: str, content: bytes) -> str:
    client.objects_api.upload_object(REPO, branch, path, content=content)
    creation = CommitCreation.from_dict({"message": f"write {path}", "metadata": {}})
    return str(client.commits_api.commit(REPO, branch, creation).id)


def _branch(client: LakeFSClient, name: str, source: str = "main") -> None:
    client.branches_api.create_branch(
        REPO, BranchCreation.from_dict({"name": name, "source": source})
    )


def test_create_branch_names_the_run_branch_and_reuses_it_on_retry(client: LakeFSClient) -> None:
    op = CreateBranchOperator(task_id="create", repository=REPO, source="main")
    first = op.execute(context(run_id="scheduled__2026-11-21T00:00:00+00:00"))
    again = op.execute(context(run_id="scheduled__2026-11-21T00:00:00+00:00", try_number=2))
    assert first == again
    assert first.startswith("run-operators_dag-scheduled__2026-11-21T00-00-00")
    assert head(client, REPO, first) == head(client, REPO, "main")
    assert LakeverBranchLink().get_link(op, ti_key=None).endswith(f"objects?ref={first}")


def test_create_branch_refuses_an_existing_branch_of_another_source(client: LakeFSClient) -> None:
    _branch(client, "elsewhere-source")
    _stage_and_commit(client, "elsewhere-source", "elsewhere/x.csv", b"x")
    _branch(client, "taken", source="elsewhere-source")
    op = CreateBranchOperator(task_id="create", repository=REPO, source="main", branch="taken")
    with pytest.raises(BranchExistsElsewhereError, match="is not this run's branch"):
        op.execute(context())


def test_commit_retry_returns_the_first_commit_and_new_staged_data_gets_a_new_one(
    client: LakeFSClient,
) -> None:
    _branch(client, "commit-retry")
    client.objects_api.upload_object(REPO, "commit-retry", "data/a.csv", content=b"a")
    op = CommitOperator(
        task_id="commit", repository=REPO, branch="commit-retry", metadata={"rows": "1"}
    )
    first = op.execute(context(task_id="commit"))
    retried = op.execute(context(task_id="commit", try_number=2))
    assert retried == first
    log = client.refs_api.log_commits(REPO, "commit-retry", amount=5).results
    assert log[0].id == first
    assert log[1].id == head(client, REPO, "main")
    assert log[0].metadata["rows"] == "1"
    assert LakeverCommitLink().get_link(op, ti_key=None).endswith(f"/commits/{first}")

    client.objects_api.upload_object(REPO, "commit-retry", "data/b.csv", content=b"b")
    cleared = op.execute(context(task_id="commit", try_number=3))
    assert cleared != first
    assert head(client, REPO, "commit-retry") == cleared


def test_commit_without_changes_fails_unless_allowed(client: LakeFSClient) -> None:
    _branch(client, "nothing-staged")
    op = CommitOperator(task_id="empty", repository=REPO, branch="nothing-staged")
    with pytest.raises(LakeverError):
        op.execute(context(task_id="empty"))
    allowed = CommitOperator(
        task_id="empty_ok", repository=REPO, branch="nothing-staged", allow_empty=True
    )
    assert allowed.execute(context(task_id="empty_ok")) == head(client, REPO, "nothing-staged")


def test_merge_retry_does_not_merge_twice(client: LakeFSClient) -> None:
    _branch(client, "merge-retry")
    _stage_and_commit(client, "merge-retry", "merged/m.csv", b"m")
    op = MergeOperator(task_id="merge", repository=REPO, source_ref="merge-retry")
    first = op.execute(context(task_id="merge"))
    retried = op.execute(context(task_id="merge", try_number=2))
    assert retried == first == head(client, REPO, "main")
    assert "merged/m.csv" in paths(client, REPO, "main")
    diff_link = LakeverDiffLink().get_link(op, ti_key=None)
    assert f"compare={first}" in diff_link


def test_a_conflicting_merge_fails_and_its_diff_link_opens_the_conflict_page(
    client: LakeFSClient,
    lakever_server: RunningServer,  # noqa: F811
) -> None:
    _branch(client, "conflict-run")
    run_head = _stage_and_commit(client, "conflict-run", "clash/c.csv", b"run")
    _stage_and_commit(client, "main", "clash/c.csv", b"main")
    op = MergeOperator(task_id="clash", repository=REPO, source_ref="conflict-run")
    with pytest.raises(MergeConflictError) as failed:
        op.execute(context(task_id="clash"))
    assert failed.value.paths == ["clash/c.csv"]

    link = LakeverDiffLink().get_link(op, ti_key=None)
    assert link == f"{lakever_server.url}/repositories/{REPO}/compare?ref=main&compare={run_head}"
    page = followed_link(lakever_server, link)
    assert "Merge conflict" in page
    assert "clash/c.csv" in page


def test_revert_of_several_commits_is_one_atomic_step(client: LakeFSClient) -> None:
    _branch(client, "revert-many")
    first = _stage_and_commit(client, "revert-many", "r/1.csv", b"1")
    _stage_and_commit(client, "revert-many", "r/2.csv", b"2")
    third = _stage_and_commit(client, "revert-many", "r/3.csv", b"3")
    before = head(client, REPO, "revert-many")

    op = RevertOperator(
        task_id="revert", repository=REPO, branch="revert-many", refs=[third, first]
    )
    new_head = op.execute(context(task_id="revert"))
    assert head(client, REPO, "revert-many") == new_head
    assert [p for p in paths(client, REPO, "revert-many") if p.startswith("r/")] == ["r/2.csv"]
    step = client.commits_api.get_commit(REPO, new_head)
    assert step.parents[0] == before, "the reverts land on the branch in one commit"
    assert not any(name.startswith("revert-many-revert-") for name in branch_names(client, REPO))
    assert op.execute(context(task_id="revert", try_number=2)) == new_head


def test_revert_of_a_merge_by_ref_expression(client: LakeFSClient) -> None:
    _branch(client, "to-undo")
    _stage_and_commit(client, "to-undo", "undo/u.csv", b"u")
    merge = MergeOperator(task_id="m", repository=REPO, source_ref="to-undo")
    merge_id = merge.execute(context(task_id="m", run_id="undo"))
    _stage_and_commit(client, "main", "undo/after.csv", b"later")

    op = RevertOperator(task_id="undo", repository=REPO, branch="main", refs="main~1")
    op.execute(context(task_id="undo", run_id="undo"))
    main_paths = paths(client, REPO, "main")
    assert "undo/u.csv" not in main_paths
    assert "undo/after.csv" in main_paths
    assert "undo/u.csv" in paths(client, REPO, merge_id)


def test_revert_of_an_unknown_ref_changes_nothing(client: LakeFSClient) -> None:
    _branch(client, "revert-bad")
    good = _stage_and_commit(client, "revert-bad", "bad/g.csv", b"g")
    op = RevertOperator(
        task_id="revert_bad", repository=REPO, branch="revert-bad", refs=[good, "f" * 64]
    )
    with pytest.raises(LakeverError):
        op.execute(context(task_id="revert_bad"))
    assert head(client, REPO, "revert-bad") == good


def test_delete_branch_is_a_teardown_that_tolerates_a_missing_branch(client: LakeFSClient) -> None:
    _branch(client, "short-lived")
    op = DeleteBranchOperator(task_id="delete", repository=REPO, branch="short-lived")
    assert op.execute(context()) is True
    assert "short-lived" not in branch_names(client, REPO)
    assert op.execute(context(try_number=2)) is False


def test_tag_is_idempotent_and_refuses_to_move(client: LakeFSClient) -> None:
    main = head(client, REPO, "main")
    op = TagOperator(task_id="tag", repository=REPO, tag="release-1", ref="main")
    assert op.execute(context()) == main
    assert op.execute(context(try_number=2)) == main
    _stage_and_commit(client, "main", "tagged/later.csv", b"l")
    with pytest.raises(LakeverError, match="exists on commit"):
        op.execute(context(try_number=3))


def test_upload_get_and_diff_summary(client: LakeFSClient) -> None:
    _branch(client, "objects")
    for path in ("obj/a.json", "obj/b.json", "top.txt"):
        UploadOperator(
            task_id="up", repository=REPO, branch="objects", path=path, content='{"x": 1}'
        ).execute(context())
    CommitOperator(task_id="c", repository=REPO, branch="objects").execute(context(task_id="c"))
    got = GetObjectOperator(task_id="get", repository=REPO, ref="objects", path="obj/a.json")
    assert got.execute(context()) == '{"x": 1}'
    summary = DiffOperator(
        task_id="diff", repository=REPO, left_ref="main", right_ref="objects"
    ).execute(context())
    assert summary["added"] == 3
    assert summary["by_prefix"]["obj/"]["added"] == 2
    assert summary["by_prefix"][""]["added"] == 1


def test_create_branch_reuses_its_branch_after_the_run_committed_on_it(
    client: LakeFSClient,
) -> None:
    run = {"run_id": "manual__reuse", "task_id": "create"}
    op = CreateBranchOperator(task_id="create", repository=REPO, branch="reused-run")
    created = op.execute(context(**run))
    client.objects_api.upload_object(REPO, created, "reuse/r.csv", content=b"r")
    CommitOperator(task_id="c", repository=REPO, branch=created).execute(
        context(run_id="manual__reuse", task_id="c")
    )
    assert op.execute(context(**run, try_number=2)) == created
    stranger = replace(TaskInstanceFields(), run_id="manual__someone_else")
    with pytest.raises(BranchExistsElsewhereError):
        op.execute({"ti": stranger, "logical_date": None})


def test_test_connection_reports_success_and_a_bad_secret(
    client: LakeFSClient,
    lakever_server: RunningServer,  # noqa: F811
) -> None:
    from airflow_provider_lakever.hooks.lakever import LakeverHook

    ok, message = LakeverHook().test_connection()
    assert ok, message
    with airflow_connection("lakever_bad_secret", lakever_server.url, lakever_server) as conn_id:
        import json
        import os

        name = f"AIRFLOW_CONN_{conn_id.upper()}"
        fields = json.loads(os.environ[name])
        os.environ[name] = json.dumps({**fields, "password": "not-the-secret"})
        ok, message = LakeverHook(conn_id).test_connection()
    assert not ok
    assert "not-the-secret" not in message
