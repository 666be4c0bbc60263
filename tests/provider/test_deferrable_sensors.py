"""Deferrable sensors through the trigger path, against a real server.

Committed states only: a staged file never satisfies the file sensor. Triggers run in an
event loop (their server calls go to worker threads); the proxy in front of the server
counts their polls, so each step waits for evidence, with a deadline, never for a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.models.commit_creation import CommitCreation

from airflow_provider_lakever.exceptions import LakeverError
from airflow_provider_lakever.sensors.commit import CommitSensor
from airflow_provider_lakever.sensors.file import FileSensor
from airflow_provider_lakever.triggers.lakever import CommittedFileTrigger, NewCommitTrigger
from tests.provider.dags.lakever_sensors import DAGS, OBSERVED_CONN_ID, SENSOR_REPOSITORY
from tests.provider.fault_proxy import FaultProxy, fault_proxy
from tests.provider.integration import (
    STARLETTE_HTTPX_NOTICE,
    airflow_connection,
    create_repository,
    head,
    task_states,
    xcom_value,
)
from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(STARLETTE_HTTPX_NOTICE)]

LOG_OF_MAIN = rf"/repositories/{SENSOR_REPOSITORY}/refs/main/commits"
EVENT_DEADLINE_S = 180


@pytest.fixture(scope="module")
def client(lakever_server: RunningServer) -> LakeFSClient:  # noqa: F811
    return create_repository(lakever_server, SENSOR_REPOSITORY)


@pytest.fixture
def proxy(lakever_server: RunningServer) -> Iterator[FaultProxy]:  # noqa: F811
    with (
        fault_proxy(lakever_server.url) as observing,
        airflow_connection(OBSERVED_CONN_ID, observing.url, lakever_server),
    ):
        yield observing


def _write(client: LakeFSClient, path: str, content: bytes) -> None:
    client.objects_api.upload_object(SENSOR_REPOSITORY, "main", path, content=content)


def _commit(client: LakeFSClient, message: str, **metadata: str) -> str:
    creation = CommitCreation.from_dict({"message": message, "metadata": metadata})
    return str(client.commits_api.commit(SENSOR_REPOSITORY, "main", creation).id)


async def _first_event(trigger: Any, proxy: FaultProxy, act: Any, polls: int) -> Any:
    """Start the trigger; once it polled ``polls`` more times, ``act()``; return its event."""
    baseline = proxy.count("GET", LOG_OF_MAIN)
    pending = asyncio.ensure_future(trigger.run().__anext__())
    await asyncio.to_thread(proxy.wait_for, "GET", LOG_OF_MAIN, baseline + polls)
    assert not pending.done(), f"fired too early: {pending.result()}"
    await asyncio.to_thread(act)
    return await asyncio.wait_for(pending, EVENT_DEADLINE_S)


def test_file_trigger_ignores_a_staged_file_and_fires_once_it_is_committed(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    _write(client, "staged/ready.csv", b"id\n1\n")
    trigger = CommittedFileTrigger(
        lakever_conn_id=OBSERVED_CONN_ID,
        repository=SENSOR_REPOSITORY,
        ref="main",
        path="staged/ready.csv",
        poke_interval=0.05,
    )
    committed: list[str] = []
    event = asyncio.run(
        _first_event(trigger, proxy, lambda: committed.append(_commit(client, "ready")), 3)
    )
    assert event.payload == {
        "status": "success",
        "commit_id": committed[0],
        "path": "staged/ready.csv",
    }


def test_file_trigger_matches_a_glob_in_a_commit(client: LakeFSClient, proxy: FaultProxy) -> None:
    trigger = CommittedFileTrigger(
        lakever_conn_id=OBSERVED_CONN_ID,
        repository=SENSOR_REPOSITORY,
        ref="main@",
        pattern="parts/*/part-*.parquet",
        poke_interval=0.05,
    )

    def land() -> None:
        _write(client, "parts/2026-11-21/part-0.parquet", b"PAR1")
        _commit(client, "parts")

    event = asyncio.run(_first_event(trigger, proxy, land, 2))
    assert event.payload["status"] == "success"
    assert event.payload["path"] == "parts/2026-11-21/part-0.parquet"


def test_commit_trigger_fires_only_for_a_matching_commit_after_the_baseline(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    baseline = head(client, SENSOR_REPOSITORY, "main")
    trigger = NewCommitTrigger(
        lakever_conn_id=OBSERVED_CONN_ID,
        repository=SENSOR_REPOSITORY,
        branch="main",
        baseline=baseline,
        metadata={"source": "kafka"},
        prefixes=["events/"],
        poke_interval=0.05,
    )
    wanted: list[str] = []

    def commits() -> None:
        _write(client, "events/other.json", b"{}")
        _commit(client, "batch load", source="batch")  # wrong source
        _write(client, "users/u.json", b"{}")
        _commit(client, "kafka users", source="kafka")  # wrong paths
        _write(client, "events/e.json", b"{}")
        wanted.append(_commit(client, "kafka events", source="kafka"))

    event = asyncio.run(_first_event(trigger, proxy, commits, 2))
    assert event.payload["status"] == "success"
    assert event.payload["commit_id"] == wanted[0]
    assert event.payload["metadata"] == {"source": "kafka"}


def test_a_trigger_reports_a_semantic_error_as_an_event_and_the_sensor_raises(
    proxy: FaultProxy,
) -> None:
    sensor = FileSensor(
        task_id="missing_repository",
        repository="no-such-repository",
        ref="main",
        path="x",
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=True,
    )
    trigger = CommittedFileTrigger(
        lakever_conn_id=OBSERVED_CONN_ID,
        repository="no-such-repository",
        ref="main",
        path="x",
        poke_interval=0.05,
    )

    async def first() -> Any:
        return await asyncio.wait_for(trigger.run().__anext__(), EVENT_DEADLINE_S)

    event = asyncio.run(first())
    assert event.payload["status"] == "error"
    with pytest.raises(LakeverError, match="failed while deferred"):
        sensor.execute_complete({}, event.payload)  # type: ignore[arg-type]


def test_sensor_defers_with_its_baseline_and_resumes_in_execute_complete(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    sensor = CommitSensor(
        task_id="kafka_commits",
        repository=SENSOR_REPOSITORY,
        branch="main",
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=True,
        poke_interval=0.05,
    )
    before = head(client, SENSOR_REPOSITORY, "main")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete"
    assert isinstance(trigger, NewCommitTrigger)
    assert trigger.baseline == before
    rebuilt = NewCommitTrigger(**trigger.serialize()[1])

    new: list[str] = []

    def commit() -> None:
        _write(client, "events/late.json", b"{}")
        new.append(_commit(client, "late"))

    event = asyncio.run(_first_event(rebuilt, proxy, commit, 2))
    result = sensor.execute_complete({}, event.payload)  # type: ignore[arg-type]
    assert result["commit_id"] == new[0]


def test_a_deferrable_file_sensor_answers_at_once_when_committed_else_defers_with_its_timeout(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    def sensor(path: str) -> FileSensor:
        return FileSensor(
            task_id="deferrable_file",
            repository=SENSOR_REPOSITORY,
            ref="main",
            path=path,
            lakever_conn_id=OBSERVED_CONN_ID,
            deferrable=True,
            timeout=90,
        )

    _write(client, "deferred/there.csv", b"1")
    commit_id = _commit(client, "there")
    there = sensor("deferred/there.csv").execute({})  # type: ignore[arg-type]
    assert there == {"commit_id": commit_id, "path": "deferred/there.csv"}
    with pytest.raises(TaskDeferred) as deferred:
        sensor("deferred/later.csv").execute({})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, CommittedFileTrigger)
    assert trigger.query.path == "deferred/later.csv"
    assert deferred.value.timeout == timedelta(seconds=90)


def test_a_poking_file_sensor_never_accepts_an_uncommitted_file(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    sensor = FileSensor(
        task_id="poke_mode",
        repository=SENSOR_REPOSITORY,
        ref="main",
        prefix="poked/",
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=False,
    )
    _write(client, "poked/a.csv", b"1")
    assert not sensor.poke({}).is_done  # type: ignore[arg-type]
    commit_id = _commit(client, "poked")
    result = sensor.poke({})  # type: ignore[arg-type]
    assert result.is_done
    assert result.xcom_value == {"commit_id": commit_id, "path": "poked/a.csv"}


@pytest.mark.usefixtures("airflow_db")
def test_dag_with_deferrable_sensors_waits_in_the_triggerer_for_committed_data(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    """dag.test() runs each trigger inline; a helper thread acts once the trigger polls."""
    _write(client, "landing/ready.csv", b"id\n1\n")  # staged only
    found: dict[str, str] = {}
    failures: list[BaseException] = []

    def wait_for_polls(more: int) -> None:
        # A missed deadline is recorded, and the data lands anyway: the DAG run must end
        # (an inline trigger has no timeout) for the test to report the failure.
        try:
            proxy.wait_for("GET", LOG_OF_MAIN, proxy.count("GET", LOG_OF_MAIN) + more, 300)
        except TimeoutError as exc:
            failures.append(exc)

    def upstream_activity() -> None:
        try:
            wait_for_polls(4)  # the file sensor's trigger polls over the staged file...
            found["file_commit"] = _commit(client, "landing")
            wait_for_polls(6)  # ...then the commit sensor's trigger polls past its baseline
            _write(client, "events/batch.json", b"{}")
            _commit(client, "batch", source="batch")
            _write(client, "events/kafka.json", b"{}")
            found["kafka_commit"] = _commit(client, "kafka", source="kafka")
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    helper = threading.Thread(target=upstream_activity, daemon=True)
    helper.start()
    run = DAGS["lakever_deferred_sensors"].test()
    helper.join(timeout=EVENT_DEADLINE_S)
    assert not helper.is_alive()
    assert not failures, failures
    assert str(run.state) == "success", task_states("lakever_deferred_sensors", run.run_id)
    file_result = xcom_value("lakever_deferred_sensors", run.run_id, "wait_for_committed_file")
    assert file_result == {"commit_id": found["file_commit"], "path": "landing/ready.csv"}
    kafka_result = xcom_value("lakever_deferred_sensors", run.run_id, "wait_for_kafka_commit")
    assert kafka_result["commit_id"] == found["kafka_commit"]


def test_a_poking_commit_sensor_keeps_its_baseline_between_pokes(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    sensor = CommitSensor(
        task_id="poke_commits",
        repository=SENSOR_REPOSITORY,
        branch="main",
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=False,
    )
    assert not sensor.poke({}).is_done  # type: ignore[arg-type]  # sets the baseline
    assert not sensor.poke({}).is_done  # type: ignore[arg-type]  # nothing new yet
    _write(client, "poked/commit.csv", b"1")
    new = _commit(client, "poked commit")
    result = sensor.poke({})  # type: ignore[arg-type]
    assert result.is_done
    assert result.xcom_value["commit_id"] == new


@dataclass
class RescheduledTaskInstance:
    """The one task instance method a rescheduled sensor reads: its first poke's time."""

    first_poke: datetime | None

    def get_first_reschedule_date(self, context: object) -> datetime | None:
        return self.first_poke


def test_a_rescheduled_commit_sensor_counts_commits_since_its_first_poke(
    client: LakeFSClient, proxy: FaultProxy
) -> None:
    def poke(first_poke: datetime | None) -> Any:
        sensor = CommitSensor(  # a new instance per poke, as in reschedule mode
            task_id="rescheduled",
            repository=SENSOR_REPOSITORY,
            branch="main",
            lakever_conn_id=OBSERVED_CONN_ID,
            deferrable=False,
            mode="reschedule",
        )
        return sensor.poke({"ti": RescheduledTaskInstance(first_poke)})  # type: ignore[arg-type]

    assert not poke(None).is_done  # the first poke only records the baseline
    _write(client, "rescheduled/r.csv", b"1")
    new = _commit(client, "rescheduled commit")
    now = datetime.now(UTC)
    later = poke(now - timedelta(seconds=5))
    assert later.is_done
    assert later.xcom_value["commit_id"] == new
    assert not poke(now + timedelta(seconds=5)).is_done
