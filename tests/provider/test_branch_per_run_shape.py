"""The branch-per-run group's shape: visible tasks, rules, setup and teardowns."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, TriggerRule, task

from airflow_provider_lakever.decorators.branch_per_run import (
    branch_per_run,
    branch_per_run_group,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task
def load(branch: str) -> None:
    """A data task of the DAG author."""


@task
def check(branch: str, commit_id: str) -> None:
    """A quality check of the DAG author."""


def _dag(build: object) -> DAG:
    with DAG("shape", schedule=None, start_date=START) as dag:
        build()  # type: ignore[operator]
    return dag


def test_group_wires_create_work_commit_checks_merge_rollback_and_teardown() -> None:
    dag = _dag(
        lambda: branch_per_run(
            repository="lake",
            group_id="daily",
            work=load,
            checks=check,
            publishes=["events/"],
        )
    )
    tasks = dag.task_dict
    assert set(tasks) == {
        "daily.create_branch",
        "daily.load",
        "daily.commit",
        "daily.check",
        "daily.merge",
        "daily.rollback",
        "daily.delete_branch",
    }
    assert tasks["daily.create_branch"].is_setup
    assert tasks["daily.delete_branch"].is_teardown
    assert tasks["daily.rollback"].is_teardown
    assert tasks["daily.rollback"].trigger_rule == TriggerRule.ONE_FAILED
    assert "daily.load" in tasks["daily.commit"].upstream_task_ids
    assert "daily.commit" in tasks["daily.check"].upstream_task_ids
    assert "daily.check" in tasks["daily.merge"].upstream_task_ids
    assert {"daily.load", "daily.commit", "daily.check", "daily.merge"} <= tasks[
        "daily.rollback"
    ].upstream_task_ids
    # Without tasks after the merge there is never a merge to revert: only the branch to keep.
    assert tasks["daily.rollback"].merge_task_id is None
    assert {"daily.merge", "daily.rollback"} <= tasks["daily.delete_branch"].upstream_task_ids
    assert [o.uri for o in tasks["daily.merge"].outlets] == ["lakefs://lake/main/events"]
    dag.validate_setup_teardown()


def test_after_merge_tasks_put_the_merge_under_the_rollback() -> None:
    @task
    def export(merge_commit_id: str) -> None:
        """Runs after the merge."""

    dag = _dag(lambda: branch_per_run(repository="lake", work=load, after_merge=export))
    rollback = dag.task_dict["branch_per_run.rollback"]
    assert {"branch_per_run.merge", "branch_per_run.export"} <= rollback.upstream_task_ids


def test_decorator_form_uses_the_function_as_the_work() -> None:
    @branch_per_run_group(repository="lake", checks=check)
    def ingest(branch: str) -> None:
        load(branch)

    dag = _dag(ingest)
    assert "ingest.load" in dag.task_dict
    assert "ingest.check" in dag.task_dict
    assert "ingest.load" in dag.task_dict["ingest.commit"].upstream_task_ids
