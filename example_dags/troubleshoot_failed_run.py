"""Troubleshoot a failed run from the exact data it used.

Story (troubleshoot): a run of ``lakefs_workflow`` failed its quality check; its rollback
kept the run branch, and every commit on it records the DAG id and run id. This DAG:

- ``find_failed_commit``: finds the commit the failed run recorded (on its kept branch);
- ``open_debug_branch``: opens a ``debug-…`` branch at exactly that commit;
- ``reproduce``: runs the same quality check there and fails unless the failure shows up
  again (a troubleshooting run that cannot reproduce says so);
- ``read_input_by_commit``: reads the input the run saw *by commit id* through the S3
  gateway (``<repository>/<commit id>/raw/orders/...``), whatever ``main`` holds now, and
  recomputes what the totals should have been;
- ``record_findings``: commits both as ``_debug/findings.json`` on the debug branch, which
  stays for whoever investigates (delete it when done).

Params: ``repository``, ``failed_dag_id`` and ``failed_run_id`` (the run to investigate).
"""

from __future__ import annotations

import json
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException
from lakever_examples import CONN_ID, DEFAULT_REPOSITORY, REPOSITORY_PARAM, s3_settings
from lakever_examples.branches import created_branch
from lakever_examples.data import (
    orders_path,
    read_parquet_prefix,
    region_totals,
    totals_prefix,
    totals_problems,
)

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator
from airflow_provider_lakever.operators.commit import CommitOperator
from airflow_provider_lakever.utils.naming import run_branch_name
from airflow_provider_lakever.utils.stamps import RUN_ID, TASK_ID

FINDINGS_PATH = "_debug/findings.json"
DEBUG_BRANCH = created_branch("open_debug_branch")

with DAG(
    dag_id="troubleshoot_failed_run",
    description="Branch at a failed run's commit, reproduce, read its input by commit id",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "repository": Param(DEFAULT_REPOSITORY, type="string"),
        "failed_dag_id": Param("lakefs_workflow", type="string"),
        "failed_run_id": Param("", type="string", description="the run id to investigate"),
    },
    tags=["lakever", "example", "troubleshoot"],
    doc_md=__doc__,
) as dag:

    @task
    def find_failed_commit(
        repository: str, failed_dag_id: str, failed_run_id: str
    ) -> dict[str, str]:
        """The commit the failed run's ``commit`` task recorded on its kept run branch."""
        dag_id, run_id = failed_dag_id, failed_run_id
        if not run_id:
            raise AirflowFailException("set the failed_run_id param to the run to investigate")
        hook = LakeverHook(CONN_ID)
        branch = run_branch_name(dag_id, run_id)
        if hook.get_branch_head(repository, branch) is None:
            raise AirflowFailException(
                f"run branch {branch!r} of {dag_id}/{run_id} is gone: was the run kept?"
            )
        commit = hook.find_commit(
            repository,
            branch,
            lambda c: (
                (c.metadata or {}).get(RUN_ID) == run_id
                and (c.metadata or {}).get(TASK_ID) == "commit"
            ),
        )
        if commit is None:
            raise AirflowFailException(f"no commit of run {run_id} on {branch!r}")
        metadata = commit.metadata or {}
        return {
            "commit_id": commit.id,
            "run_branch": branch,
            "date": metadata["date"],
            "input_commit": metadata["input_commit"],
        }

    failed = find_failed_commit(
        REPOSITORY_PARAM, "{{ params.failed_dag_id }}", "{{ params.failed_run_id }}"
    )
    open_debug_branch = CreateBranchOperator(
        task_id="open_debug_branch",
        repository=REPOSITORY_PARAM,
        source="{{ ti.xcom_pull(task_ids='find_failed_commit')['commit_id'] }}",
        branch_prefix="debug",
    )

    @task
    def reproduce(repository: str, branch: str, failed: dict[str, str]) -> list[str]:
        """Run the quality check on the debug branch; the failure must show up again."""
        hook = LakeverHook(CONN_ID)
        totals = read_parquet_prefix(hook, repository, branch, totals_prefix(failed["date"]))
        problems = totals_problems(totals)
        if not problems:
            raise AirflowFailException(
                f"could not reproduce: the totals at {failed['commit_id'][:12]} pass the check"
            )
        return problems

    @task
    def read_input_by_commit(repository: str, failed: dict[str, str]) -> dict[str, Any]:
        """Read the run's input by commit id on the S3 gateway; recompute the right totals."""
        import pyarrow.csv as pacsv

        location = f"{repository}/{failed['input_commit']}/{orders_path(failed['date'])}"
        with s3_settings().filesystem().open_input_stream(location) as stream:
            orders = pacsv.read_csv(stream)
        expected = region_totals(orders)
        return {
            "input": f"s3://{location}",
            "orders": orders.num_rows,
            "expected_revenue": dict(
                zip(
                    expected.column("region").to_pylist(),
                    expected.column("revenue").to_pylist(),
                    strict=True,
                )
            ),
        }

    @task
    def record_findings(
        repository: str,
        branch: str,
        failed: dict[str, str],
        problems: list[str],
        historic: dict[str, Any],
    ) -> str:
        """Stage ``_debug/findings.json`` on the debug branch for the commit that follows."""
        findings = {"failed_run": failed, "reproduced_problems": problems, "input": historic}
        content = json.dumps(findings, indent=2, sort_keys=True).encode()
        LakeverHook(CONN_ID).upload(repository, branch, FINDINGS_PATH, content)
        return FINDINGS_PATH

    problems = reproduce(REPOSITORY_PARAM, DEBUG_BRANCH, failed)
    historic = read_input_by_commit(REPOSITORY_PARAM, failed)
    recorded = record_findings(REPOSITORY_PARAM, DEBUG_BRANCH, failed, problems, historic)
    commit_findings = CommitOperator(
        task_id="commit_findings",
        repository=REPOSITORY_PARAM,
        branch=DEBUG_BRANCH,
        message="Findings on run {{ params.failed_run_id }} of {{ params.failed_dag_id }}",
        metadata={
            "investigated_dag_id": "{{ params.failed_dag_id }}",
            "investigated_run_id": "{{ params.failed_run_id }}",
        },
    )

    failed >> open_debug_branch >> problems
    recorded >> commit_findings
