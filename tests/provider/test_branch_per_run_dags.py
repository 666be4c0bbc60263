"""Whole branch-per-run DAGs, run with ``dag.test()`` against a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from lakefs_sdk.client import LakeFSClient

from airflow_provider_lakever.links.lakever import LakeverDiffLink
from tests.provider.dags.lakever_branch_per_run import (
    AFTER_MERGE_REPOSITORY,
    CONFLICT_REPOSITORY,
    DAGS,
    FAILING_REPOSITORY,
    HAPPY_REPOSITORY,
    PUBLISHED_ASSET,
)
from tests.provider.integration import (
    STARLETTE_HTTPX_NOTICE,
    airflow_connection,
    branch_names,
    create_repository,
    head,
    paths,
    task_states,
    try_numbers,
    xcom_value,
)
from tests.server.ui.ui_client import followed_link
from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(STARLETTE_HTTPX_NOTICE)]

GROUP = "branch_per_run"


@pytest.fixture(scope="module")
def client(lakever_server: RunningServer) -> Iterator[LakeFSClient]:  # noqa: F811
    sdk = lakever_server.lakefs_sdk_client()
    for name in (HAPPY_REPOSITORY, FAILING_REPOSITORY, CONFLICT_REPOSITORY, AFTER_MERGE_REPOSITORY):
        create_repository(lakever_server, name)
    with airflow_connection("lakever_default", lakever_server.url, lakever_server):
        yield sdk


def _run(dag_id: str) -> tuple[str, str, dict[str, str | None]]:
    run = DAGS[dag_id].test()
    return str(run.run_id), str(run.state), task_states(dag_id, run.run_id)


@pytest.mark.usefixtures("airflow_db")
def test_happy_path_merges_the_checked_run_branch_and_cleans_it_up(client: LakeFSClient) -> None:
    main_before = head(client, HAPPY_REPOSITORY, "main")
    run_id, state, states = _run("lakever_happy_path")
    assert state == "success", states
    assert states[f"{GROUP}.merge"] == "success"
    assert states[f"{GROUP}.rollback"] == "skipped"
    assert states[f"{GROUP}.delete_branch"] == "success"

    merge_id = xcom_value("lakever_happy_path", run_id, f"{GROUP}.merge")
    assert head(client, HAPPY_REPOSITORY, "main") == merge_id != main_before
    assert paths(client, HAPPY_REPOSITORY, "main") == ["events/a.json", "events/b.json"]
    run_branch = xcom_value("lakever_happy_path", run_id, f"{GROUP}.create_branch")
    assert run_branch not in branch_names(client, HAPPY_REPOSITORY)

    commit_id = xcom_value("lakever_happy_path", run_id, f"{GROUP}.commit")
    commit = client.commits_api.get_commit(HAPPY_REPOSITORY, commit_id)
    assert commit.metadata["airflow.dag_id"] == "lakever_happy_path"
    assert commit.metadata["airflow.run_id"] == run_id
    assert commit.metadata["airflow.task_id"] == f"{GROUP}.commit"
    assert commit.metadata["airflow.try_number"] == "1"
    assert commit.metadata["airflow.task_url"].startswith("http://airflow.example:8080/dags/")
    merge = client.commits_api.get_commit(HAPPY_REPOSITORY, merge_id)
    assert commit_id in merge.parents


@pytest.mark.usefixtures("airflow_db")
def test_merge_emits_an_asset_event_carrying_the_merge_commit(client: LakeFSClient) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run_id, state, _ = _run("lakever_happy_path")
    assert state == "success"
    merge_id = xcom_value("lakever_happy_path", run_id, f"{GROUP}.merge")
    with create_session() as session:
        extras = session.scalars(
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == PUBLISHED_ASSET.uri, AssetEvent.source_run_id == run_id)
        ).all()
    assert len(extras) == 1
    (extra,) = extras
    assert extra["commit_id"] == merge_id
    assert extra["commit_uri"] == f"lakefs://{HAPPY_REPOSITORY}/{merge_id}/events"
    assert extra["branch"] == "main"


@pytest.mark.usefixtures("airflow_db")
def test_failing_check_runs_rollback_leaves_main_unchanged_and_keeps_the_branch(
    client: LakeFSClient,
) -> None:
    main_before = head(client, FAILING_REPOSITORY, "main")
    dag_id = "lakever_failing_check_keep_branch"
    run_id, state, states = _run(dag_id)
    assert state == "failed"
    assert states[f"{GROUP}.count_new_events"] == "failed"
    assert states[f"{GROUP}.merge"] == "upstream_failed"
    assert states[f"{GROUP}.rollback"] == "success"
    assert head(client, FAILING_REPOSITORY, "main") == main_before
    assert paths(client, FAILING_REPOSITORY, "main") == []

    verdict = xcom_value(dag_id, run_id, f"{GROUP}.rollback")
    assert verdict["reverted"] is None
    assert verdict["keep_branch"] is True
    run_branch = xcom_value(dag_id, run_id, f"{GROUP}.create_branch")
    assert verdict["run_branch"] == run_branch
    assert run_branch in branch_names(client, FAILING_REPOSITORY)
    assert paths(client, FAILING_REPOSITORY, run_branch) == ["events/a.json", "events/b.json"]


@pytest.mark.usefixtures("airflow_db")
def test_failing_check_can_delete_the_run_branch_instead(client: LakeFSClient) -> None:
    main_before = head(client, FAILING_REPOSITORY, "main")
    dag_id = "lakever_failing_check_delete_branch"
    run_id, state, states = _run(dag_id)
    assert state == "failed"
    assert states[f"{GROUP}.rollback"] == "success"
    assert states[f"{GROUP}.delete_branch"] == "success"
    assert head(client, FAILING_REPOSITORY, "main") == main_before
    run_branch = xcom_value(dag_id, run_id, f"{GROUP}.create_branch")
    assert run_branch not in branch_names(client, FAILING_REPOSITORY)


@pytest.mark.usefixtures("airflow_db")
def test_merge_conflict_fails_without_retry_and_lists_every_path(
    client: LakeFSClient,
    lakever_server: RunningServer,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
) -> None:
    dag_id = "lakever_merge_conflict"
    run_id, state, states = _run(dag_id)
    assert state == "failed"
    assert states[f"{GROUP}.merge"] == "failed"
    assert try_numbers(dag_id, run_id)[f"{GROUP}.merge"] == 1  # retries=2, none used
    output = capfd.readouterr()
    log = output.out + output.err
    assert "conflicts on 2 path(s)" in log
    assert "- shared/a.csv" in log
    assert "- shared/b.csv" in log
    assert client.objects_api.get_object(CONFLICT_REPOSITORY, "main", "shared/a.csv") == (
        b"id\n1\n"
    )
    # A refused merge is a failed run: the rollback changes nothing on main and keeps the
    # run branch for troubleshooting (the default), so the teardown leaves it.
    assert states[f"{GROUP}.rollback"] == "success"
    assert states[f"{GROUP}.delete_branch"] == "success"
    run_branch = xcom_value(dag_id, run_id, f"{GROUP}.create_branch")
    assert run_branch in branch_names(client, CONFLICT_REPOSITORY)
    # The failed merge's diff link, stored in XCom when the task ended, opens the conflict
    # (the link names the run's commit, which outlives the branch).
    run_commit = xcom_value(dag_id, run_id, f"{GROUP}.commit")
    link = xcom_value(dag_id, run_id, f"{GROUP}.merge", key=LakeverDiffLink().xcom_key)
    assert link == (
        f"{lakever_server.url}/repositories/{CONFLICT_REPOSITORY}/compare?"
        + urlencode({"ref": "main", "compare": run_commit})
    )
    page = followed_link(lakever_server, link)
    assert "Merge conflict" in page
    assert "shared/a.csv" in page
    assert "shared/b.csv" in page


@pytest.mark.usefixtures("airflow_db")
def test_a_failure_after_the_merge_is_rolled_back_on_main(client: LakeFSClient) -> None:
    main_before = head(client, AFTER_MERGE_REPOSITORY, "main")
    dag_id = "lakever_failure_after_merge"
    run_id, state, states = _run(dag_id)
    assert state == "failed"
    assert states[f"{GROUP}.merge"] == "success"
    assert states[f"{GROUP}.publish_downstream"] == "failed"
    assert states[f"{GROUP}.rollback"] == "success"
    merge_id = xcom_value(dag_id, run_id, f"{GROUP}.merge")
    verdict = xcom_value(dag_id, run_id, f"{GROUP}.rollback")
    assert verdict["reverted"] == head(client, AFTER_MERGE_REPOSITORY, "main")
    assert head(client, AFTER_MERGE_REPOSITORY, "main") not in (merge_id, main_before)
    # The merged files are gone from main again; main's history keeps both commits.
    assert paths(client, AFTER_MERGE_REPOSITORY, "main") == []
    assert paths(client, AFTER_MERGE_REPOSITORY, merge_id) == ["events/a.json", "events/b.json"]
