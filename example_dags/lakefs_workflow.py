"""The canonical branch-per-run pipeline: create_branch → spark_submit → commit → merge.

Story (Dev/Stage/Prod is an anti-pattern): instead of copying production data into a
staging environment, every run branches ``main``, runs the real Spark job on its branch,
commits with the run's identity, checks the result there, and merges into ``main`` in
one atomic step only when the checks pass. Readers of ``main`` never see a half-written
or failed run.

- ``wait_for_input``: a commit-aware FileSensor; only *committed* orders of the day count.
- ``create_branch``: the run branch, at exactly the commit the sensor saw.
- ``spark_submit``: ``jobs/region_totals.py`` in local mode, where Spark itself reads the
  orders from the run branch and writes Parquet to it through the server's WebHDFS
  (``webhdfs://<host>:<port>/<repository>/<branch>/<path>``): stock Spark, Hadoop's own
  OAuth2 token provider, no extra JAR. The access key id goes in ``conf``; the secret
  reaches the job in its environment, never on the logged spark-submit command line.
- ``commit``: the job's output, stamped with the DAG id, run id and task.
- ``quality_check``: refuses negative revenue, unknown regions, lost orders.
- ``merge``: the run branch into ``main``; ``verify_published`` reads it back there.
- ``rollback``: runs when any of those fails; reverts the merge if it reached ``main`` and
  keeps the run branch for troubleshooting (see ``troubleshoot_failed_run``).
- ``report_failure``: fails the DAG run after a rollback (which itself succeeds).
- ``cleanup``: a teardown deleting the run branch of a successful run.

Connections: ``lakever_default`` (the server) and ``spark_local`` (``spark`` type, host
``local[1]``). Params: ``repository``; ``corrupt`` makes the job negate revenue, to watch
the quality check stop a bad release and the rollback keep ``main`` clean.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException
from lakever_examples import CONN_ID, DEFAULT_REPOSITORY, REPOSITORY_PARAM, s3_settings
from lakever_examples.branches import created_branch, delete_when_done
from lakever_examples.data import (
    orders_path,
    read_csv,
    read_parquet_prefix,
    region_totals,
    totals_prefix,
    totals_problems,
)

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator
from airflow_provider_lakever.operators.commit import CommitOperator
from airflow_provider_lakever.operators.merge import MergeOperator
from airflow_provider_lakever.operators.revert import RollbackOperator
from airflow_provider_lakever.sensors.file import FileSensor

JOB = Path(__file__).parent / "jobs" / "region_totals.py"
SPARK_CONN_ID = "spark_local"
RUN_BRANCH = created_branch("create_branch")
INPUT_COMMIT = "{{ ti.xcom_pull(task_ids='wait_for_input')['commit_id'] }}"
INPUT = "raw/orders/date={{ ds }}/orders.csv"
OUTPUT = "tables/region_totals/date={{ ds }}/"

# Small and single-threaded: the job handles one day of orders, and the machine is shared.
SPARK_CONF = {
    "spark.driver.memory": "512m",
    "spark.executor.memory": "512m",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.ui.enabled": "false",
    # No _SUCCESS marker: on lakever the run's commit, then its merge, says the output is
    # whole, and a day's table stays one Parquet file.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}
# Hadoop's WebHDFS client signs in with OAuth2 client credentials: the lakever access key id
# is the client id. The secret (the credential) is not here: spark-submit's command line is
# logged, so the job takes it from LAKEVER_WEBHDFS_CREDENTIAL and sets it itself.
WEBHDFS_CONF = {
    "spark.hadoop.dfs.webhdfs.oauth2.enabled": "true",
    "spark.hadoop.dfs.webhdfs.oauth2.access.token.provider": (
        "org.apache.hadoop.hdfs.web.oauth2.ConfCredentialBasedAccessTokenProvider"
    ),
    "spark.hadoop.dfs.webhdfs.oauth2.client.id": "{{ lakever_server().access_key_id }}",
    "spark.hadoop.dfs.webhdfs.oauth2.refresh.url": "{{ lakever_server().webhdfs_token_url }}",
}
# spark-submit and the job's Python are this interpreter's, whatever PATH the worker has.
PYTHON_ENV = {
    "PYSPARK_PYTHON": sys.executable,
    "PYSPARK_DRIVER_PYTHON": sys.executable,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
}

with DAG(
    dag_id="lakefs_workflow",
    description="create_branch → spark_submit → commit → quality check → merge, per run",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "repository": Param(DEFAULT_REPOSITORY, type="string"),
        "corrupt": Param(False, type="boolean", description="make the job negate revenue"),
    },
    user_defined_macros={"lakever_server": s3_settings},
    tags=["lakever", "example", "spark"],
    doc_md=__doc__,
) as dag:
    wait_for_input = FileSensor(
        task_id="wait_for_input",
        repository=REPOSITORY_PARAM,
        ref="main",
        path=INPUT,
        poke_interval=5,
        timeout=600,
        mode="poke",
        deferrable=False,
    )
    create_branch = CreateBranchOperator(
        task_id="create_branch", repository=REPOSITORY_PARAM, source=INPUT_COMMIT
    )
    spark_submit = SparkSubmitOperator(
        task_id="spark_submit",
        conn_id=SPARK_CONN_ID,
        application=str(JOB),
        name="lakever-region-totals-{{ ds_nodash }}",
        application_args=[
            *("--webhdfs", "{{ lakever_server().webhdfs_root }}"),
            *("--repository", REPOSITORY_PARAM, "--branch", RUN_BRANCH),
            *("--input", INPUT, "--output", OUTPUT),
            *("--corrupt", "{{ params.corrupt | string | lower }}"),
        ],
        conf={**SPARK_CONF, **WEBHDFS_CONF},
        env_vars={
            **PYTHON_ENV,
            "LAKEVER_WEBHDFS_CREDENTIAL": "{{ lakever_server().secret_access_key }}",
        },
        verbose=False,
    )
    commit = CommitOperator(
        task_id="commit",
        repository=REPOSITORY_PARAM,
        branch=RUN_BRANCH,
        message="Region totals of {{ ds }} (run {{ run_id }})",
        metadata={"date": "{{ ds }}", "input_commit": INPUT_COMMIT, "job": JOB.name},
    )

    @task
    def quality_check(
        repository: str, branch: str, commit_id: str, day: str, input_commit: str
    ) -> dict[str, Any]:
        """Refuse totals that are negative, name unknown regions or lose orders."""
        hook = LakeverHook(CONN_ID)
        totals = read_parquet_prefix(hook, repository, commit_id, totals_prefix(day))
        problems = totals_problems(totals)
        orders = read_csv(hook, repository, input_commit, orders_path(day))
        counted = sum(totals.column("orders").to_pylist())
        if counted != orders.num_rows:
            problems.append(f"{counted} orders in the totals, {orders.num_rows} in the input")
        if problems:
            raise AirflowFailException(
                f"totals of {day} on {branch} at {commit_id[:12]} are unfit to publish: "
                + "; ".join(problems)
            )
        return {"regions": totals.num_rows, "orders": counted, "commit_id": commit_id}

    checked = quality_check(
        REPOSITORY_PARAM,
        RUN_BRANCH,
        "{{ ti.xcom_pull(task_ids='commit') }}",
        "{{ ds }}",
        INPUT_COMMIT,
    )
    merge = MergeOperator(
        task_id="merge",
        repository=REPOSITORY_PARAM,
        source_ref=RUN_BRANCH,
        destination_branch="main",
        message="Publish region totals of {{ ds }} (run {{ run_id }})",
        metadata={"date": "{{ ds }}", "quality_check": "passed"},
    )

    @task
    def verify_published(repository: str, merge_commit: str, day: str) -> dict[str, Any]:
        """Read the totals back from ``main``'s merge commit, as a consumer would."""
        hook = LakeverHook(CONN_ID)
        totals = read_parquet_prefix(hook, repository, merge_commit, totals_prefix(day))
        expected = region_totals(read_csv(hook, repository, merge_commit, orders_path(day)))
        if totals.sort_by("region").to_pylist() != expected.to_pylist():
            raise AirflowFailException(f"main at {merge_commit[:12]} holds other totals")
        return {"merge_commit": merge_commit, "regions": totals.num_rows}

    verified = verify_published(
        REPOSITORY_PARAM, "{{ ti.xcom_pull(task_ids='merge') }}", "{{ ds }}"
    )
    rollback = RollbackOperator(
        task_id="rollback",
        repository=REPOSITORY_PARAM,
        destination_branch="main",
        run_branch=RUN_BRANCH,
        merge_task_id="merge",
        keep_branch=True,
        trigger_rule="one_failed",
    )

    @task(trigger_rule="one_failed")
    def report_failure() -> None:
        """Fail the DAG run when a step failed, even though the rollback succeeded."""
        raise AirflowFailException(
            "a step of this run failed: main does not hold its output (see rollback); "
            "the run branch is kept for troubleshoot_failed_run"
        )

    wait_for_input >> create_branch >> spark_submit >> commit >> checked >> merge >> verified
    steps = [spark_submit, commit, checked, merge, verified]
    steps >> rollback
    [*steps, rollback] >> report_failure()
    delete_when_done(
        create_branch,
        after=[verified, rollback],
        task_id="cleanup",
        keep_if_requested_by="rollback",
    )
