"""Transient faults during commit and merge, injected for real by a proxy: no double write.

The proxy sits between the DAG's tasks and the real server. ``drop_after_forward`` lets
the server commit (or merge) and then resets the connection, so the client cannot know
whether the write happened; ``503`` refuses the request before the server sees it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lakefs_sdk.client import LakeFSClient

from tests.provider.dags.lakever_transient_faults import (
    DAGS,
    FLAKY_CONN_ID,
    FLAKY_REPOSITORY,
    ONE_ATTEMPT_CONN_ID,
)
from tests.provider.fault_proxy import Fault, fault_proxy
from tests.provider.integration import (
    STARLETTE_HTTPX_NOTICE,
    airflow_connection,
    create_repository,
    task_states,
    try_numbers,
    xcom_value,
)
from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(STARLETTE_HTTPX_NOTICE)]

GROUP = "branch_per_run"
COMMIT_POST = r"/repositories/flaky/branches/[^/]+/commits$"
MERGE_POST = r"/repositories/flaky/refs/[^/]+/merge/main$"
FAST_RETRIES = {"retry_initial_backoff": 0.05, "retry_max_backoff": 0.2}


@pytest.fixture(scope="module")
def client(lakever_server: RunningServer) -> LakeFSClient:  # noqa: F811
    return create_repository(lakever_server, FLAKY_REPOSITORY)


@pytest.fixture
def server(lakever_server: RunningServer) -> Iterator[RunningServer]:  # noqa: F811
    with airflow_connection("lakever_default", lakever_server.url, lakever_server):
        yield lakever_server


def _commits_by(client: LakeFSClient, dag_id: str, run_id: str, task_id: str) -> list[str]:
    log = client.refs_api.log_commits(FLAKY_REPOSITORY, "main", amount=1000).results
    return [
        c.id
        for c in log
        if (c.metadata or {}).get("airflow.run_id") == run_id
        and (c.metadata or {}).get("airflow.dag_id") == dag_id
        and (c.metadata or {}).get("airflow.task_id") == task_id
    ]


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("action", ["drop_after_forward", "503"])
def test_a_fault_during_commit_and_merge_is_retried_without_a_double_write(
    client: LakeFSClient, server: RunningServer, action: str
) -> None:
    faults = [Fault("POST", COMMIT_POST, action), Fault("POST", MERGE_POST, action)]
    with (
        fault_proxy(server.url, faults) as proxy,
        airflow_connection(FLAKY_CONN_ID, proxy.url, server, **FAST_RETRIES),
    ):
        run = DAGS["lakever_flaky"].test()
    assert str(run.state) == "success", task_states("lakever_flaky", run.run_id)
    assert [f[2] for f in proxy.fired] == [action, action]

    commits = _commits_by(client, "lakever_flaky", run.run_id, f"{GROUP}.commit")
    merges = _commits_by(client, "lakever_flaky", run.run_id, f"{GROUP}.merge")
    assert len(commits) == 1, "the commit was recorded twice"
    assert len(merges) == 1, "the merge was recorded twice"
    assert xcom_value("lakever_flaky", run.run_id, f"{GROUP}.commit") == commits[0]
    assert xcom_value("lakever_flaky", run.run_id, f"{GROUP}.merge") == merges[0]
    if action == "drop_after_forward":
        # The recovery probe found the write: the request was not sent a second time.
        assert proxy.count("POST", COMMIT_POST) == 1
        assert proxy.count("POST", MERGE_POST) == 1


@pytest.mark.usefixtures("airflow_db")
def test_a_retried_commit_task_reuses_the_commit_its_first_try_made(
    client: LakeFSClient, server: RunningServer
) -> None:
    faults = [Fault("POST", COMMIT_POST, "drop_after_forward")]
    dag_id = "lakever_flaky_task_retry"
    with (
        fault_proxy(server.url, faults) as proxy,
        airflow_connection(ONE_ATTEMPT_CONN_ID, proxy.url, server, retry_attempts=1),
    ):
        run = DAGS[dag_id].test()
    assert str(run.state) == "success", task_states(dag_id, run.run_id)
    assert try_numbers(dag_id, run.run_id)[f"{GROUP}.commit"] == 2
    assert proxy.count("POST", COMMIT_POST) == 1
    commits = _commits_by(client, dag_id, run.run_id, f"{GROUP}.commit")
    assert len(commits) == 1
    assert xcom_value(dag_id, run.run_id, f"{GROUP}.commit") == commits[0]
