"""Commit metadata ties a commit to its task; the idempotency key spans retries only."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pendulum
import pytest

from airflow_provider_lakever.utils.stamps import (
    DAG_ID,
    IDEMPOTENCY_KEY,
    LOGICAL_DATE,
    MAP_INDEX,
    RUN_ID,
    TASK_ID,
    TASK_URL,
    TRY_NUMBER,
    stamped,
    task_stamp,
)


@dataclass(frozen=True)
class TaskInstanceFields:
    """The task instance attributes a stamp reads (a RuntimeTaskInstance has them all)."""

    dag_id: str = "daily_ingest"
    run_id: str = "scheduled__2026-11-21T00:00:00+00:00"
    task_id: str = "branch_per_run.commit"
    try_number: int = 1
    map_index: int = -1
    log_url: str = "http://airflow.example:8080/dags/daily_ingest/runs/r/tasks/commit"


LOGICAL = pendulum.datetime(2026, 11, 21, tz="UTC")


def _stamp(ti: TaskInstanceFields, purpose: str = "commit") -> dict[str, str]:
    return task_stamp({"ti": ti, "logical_date": LOGICAL}, purpose)


def test_stamp_names_the_dag_run_task_try_map_index_date_and_ui_url() -> None:
    stamp = _stamp(TaskInstanceFields(try_number=3, map_index=2))
    assert stamp[DAG_ID] == "daily_ingest"
    assert stamp[RUN_ID] == "scheduled__2026-11-21T00:00:00+00:00"
    assert stamp[TASK_ID] == "branch_per_run.commit"
    assert stamp[TRY_NUMBER] == "3"
    assert stamp[MAP_INDEX] == "2"
    assert stamp[LOGICAL_DATE] == "2026-11-21T00:00:00+00:00"
    assert stamp[TASK_URL].startswith("http://airflow.example:8080/dags/daily_ingest/")
    assert all(isinstance(v, str) for v in stamp.values())


def test_every_try_of_a_task_instance_shares_the_idempotency_key() -> None:
    first = _stamp(TaskInstanceFields(try_number=1))
    retry = _stamp(TaskInstanceFields(try_number=2))
    assert first[IDEMPOTENCY_KEY] == retry[IDEMPOTENCY_KEY]
    assert first[TRY_NUMBER] != retry[TRY_NUMBER]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"run_id": "manual__other"}, id="another run"),
        pytest.param({"task_id": "other_task"}, id="another task"),
        pytest.param({"map_index": 4}, id="another mapped instance"),
        pytest.param({"dag_id": "other_dag"}, id="another dag"),
    ],
)
def test_other_task_instances_get_other_keys(change: dict[str, object]) -> None:
    base = TaskInstanceFields()
    assert _stamp(base)[IDEMPOTENCY_KEY] != _stamp(replace(base, **change))[IDEMPOTENCY_KEY]


def test_a_commit_and_a_merge_by_one_task_get_different_keys() -> None:
    ti = TaskInstanceFields()
    assert _stamp(ti, "commit")[IDEMPOTENCY_KEY] != _stamp(ti, "merge")[IDEMPOTENCY_KEY]


def test_user_metadata_is_kept_as_strings_and_cannot_forge_the_stamp() -> None:
    stamp = _stamp(TaskInstanceFields())
    merged = stamped({"source": "kafka", "rows": 42, DAG_ID: "forged"}, stamp)
    assert merged["source"] == "kafka"
    assert merged["rows"] == "42"
    assert merged[DAG_ID] == "daily_ingest"
