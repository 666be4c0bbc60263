"""Branch-per-run DAGs whose connection goes through a proxy that injects faults.

``lakever_flaky`` is the hook-level case: the hook retries, and must not commit or merge
twice when a response is lost. ``lakever_flaky_task_retry`` is the task-level case: its
connection allows one attempt only, so the lost response fails the task, and Airflow's
retry must find the earlier commit instead of committing again.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_lakever.decorators.branch_per_run import branch_per_run
from airflow_provider_lakever.operators.objects import UploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
FLAKY_REPOSITORY = "flaky"
FLAKY_CONN_ID = "lakever_flaky"
ONE_ATTEMPT_CONN_ID = "lakever_one_attempt"

DAGS: dict[str, DAG] = {}


def _write_one_file(repository: str, conn_id: str) -> object:
    def work(branch: object) -> None:
        UploadOperator(
            task_id="load",
            repository=repository,
            branch=branch,  # type: ignore[arg-type]
            path="events/{{ run_id | replace(':', '-') }}.json",
            content="{}",
            lakever_conn_id=conn_id,
        )

    return work


for dag_id, conn_id, retries in (
    ("lakever_flaky", FLAKY_CONN_ID, 0),
    ("lakever_flaky_task_retry", ONE_ATTEMPT_CONN_ID, 1),
):
    with DAG(
        dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={"retries": retries, "retry_delay": timedelta(0)},
    ) as dag:
        branch_per_run(
            repository=FLAKY_REPOSITORY,
            work=_write_one_file(FLAKY_REPOSITORY, conn_id),
            lakever_conn_id=conn_id,
        )
        DAGS[dag.dag_id] = dag
