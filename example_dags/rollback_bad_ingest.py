"""Roll back a bad ingest: several bad merges on ``main`` reverted in one atomic step.

Story (roll back): a streaming ingest (think Kafka) lands micro-batches on its own
``ingest-…`` branch and merges them into ``main`` at intervals, each merge gated by a
schema check. Some batches carry bad values that the gate does not look at. A later
audit finds them, and one ``RevertOperator`` task reverts *all* the bad merges at once:
consumers of ``main`` go from "bad data" to "clean" in one commit, never in between.

- ``create_ingest_branch`` → ``ingest_batches`` (upload, commit, gate, merge, per batch)
- ``audit_main``: reads every batch of this run on ``main``, returns the bad merges
- ``revert_bad_merges``: reverts them together (or is skipped when there are none)
- ``verify_main_clean``: no bad row remains; every good batch is still there
- ``cleanup``: a teardown deleting the ingest branch

Params: ``repository``, ``batches`` (how many), ``bad_batches`` (which carry negative
amounts; an empty list makes a clean run).
"""

from __future__ import annotations

from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc
from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from lakever_examples import CONN_ID, DEFAULT_REPOSITORY, REPOSITORY_PARAM
from lakever_examples.branches import created_branch, delete_when_done
from lakever_examples.data import orders_table, parquet_bytes, read_parquet

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator
from airflow_provider_lakever.operators.revert import RevertOperator
from airflow_provider_lakever.utils.stamps import RUN_ID, stamped, task_stamp

INGEST_BRANCH = created_branch("create_ingest_branch")
BATCH_PREFIX = "events/orders/"
REQUIRED_COLUMNS = ("order_id", "customer", "region", "amount")


def batch_path(day: str, batch: int) -> str:
    """Where batch ``batch`` of ``day`` lands."""
    return f"{BATCH_PREFIX}date={day}/batch-{batch:03d}.parquet"


def batch_table(day: str, batch: int, *, bad: bool) -> pa.Table:
    """Twenty orders; a bad batch has negative amounts (a producer bug)."""
    table = orders_table(f"{day}#{batch}", rows=20)
    if bad:
        table = table.set_column(3, "amount", pc.negate(table.column("amount")))
    return table


with DAG(
    dag_id="rollback_bad_ingest",
    description="Micro-batches merged into main; a later audit reverts the bad ones at once",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "repository": Param(DEFAULT_REPOSITORY, type="string"),
        "batches": Param(5, type="integer", minimum=1, maximum=50),
        "bad_batches": Param([2, 3], type="array", description="batches with bad values"),
    },
    render_template_as_native_obj=True,
    tags=["lakever", "example", "rollback"],
    doc_md=__doc__,
) as dag:
    create_ingest_branch = CreateBranchOperator(
        task_id="create_ingest_branch", repository=REPOSITORY_PARAM, branch_prefix="ingest"
    )

    @task
    def ingest_batches(
        repository: str, branch: str, day: str, batches: int, bad_batches: list[int]
    ) -> list[dict[str, Any]]:
        """Land each batch on the ingest branch, gate its schema, merge it into ``main``."""
        hook = LakeverHook(CONN_ID)
        context = get_current_context()
        merged = []
        for batch in range(batches):
            table = batch_table(day, batch, bad=batch in bad_batches)
            missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
            if missing:  # the gate: a schema check, blind to values
                raise AirflowFailException(f"batch {batch} lacks columns {missing}")
            path = batch_path(day, batch)
            hook.upload(repository, branch, path, parquet_bytes(table))
            meta = {"batch": str(batch), "date": day, "path": path}
            hook.commit(
                repository,
                branch,
                message=f"Ingest batch {batch} of {day}",
                metadata=stamped(meta, task_stamp(context, f"commit-{batch}")),
            )
            merge_id = hook.merge(
                repository,
                branch,
                "main",
                message=f"Merge batch {batch} of {day} into main",
                metadata=stamped(meta, task_stamp(context, f"merge-{batch}")),
            )
            merged.append({"batch": batch, "path": path, "merge_commit": merge_id})
        return merged

    @task
    def audit_main(repository: str, this_run: str) -> list[str]:
        """The merge commits of this run on ``main`` whose batch has a negative amount."""
        hook = LakeverHook(CONN_ID)
        bad = []
        for commit in hook.iter_log(repository, "main", limit=1000):
            metadata = commit.metadata or {}
            if metadata.get(RUN_ID) != this_run or len(commit.parents) < 2:
                continue
            batch = read_parquet(hook, repository, commit.id, metadata["path"])
            if pc.any(pc.less(batch.column("amount"), 0)).as_py():
                bad.append(commit.id)
        if not bad:
            raise AirflowSkipException("every batch of this run on main is clean")
        return bad  # newest first: each revert applies on top of the later batches

    @task(trigger_rule="none_failed")  # also when the audit found nothing to revert
    def verify_main_clean(
        repository: str, merged: list[dict[str, Any]], bad_batches: list[int]
    ) -> dict[str, Any]:
        """No bad batch is readable on ``main``; every good one still is."""
        hook = LakeverHook(CONN_ID)
        present = {s.path for s in hook.list_objects(repository, "main", prefix=BATCH_PREFIX)}
        for item in merged:
            expected = item["batch"] not in bad_batches
            if (item["path"] in present) != expected:
                raise AirflowFailException(
                    f"batch {item['batch']} is {'missing from' if expected else 'still on'} main"
                )
        head = hook.resolve_commit(repository, "main")
        return {"main": head.id, "kept": sorted(i["batch"] for i in merged if i["path"] in present)}

    merged = ingest_batches(
        REPOSITORY_PARAM,
        INGEST_BRANCH,
        "{{ ds }}",
        "{{ params.batches }}",
        "{{ params.bad_batches }}",
    )
    audited = audit_main(REPOSITORY_PARAM, "{{ run_id }}")
    revert_bad_merges = RevertOperator(
        task_id="revert_bad_merges",
        repository=REPOSITORY_PARAM,
        branch="main",
        refs="{{ ti.xcom_pull(task_ids='audit_main') }}",
        parent_number=1,
        message="Revert the bad batches of {{ ds }} found by the audit of {{ run_id }}",
        metadata={"reason": "negative amounts found by audit_main"},
    )
    verified = verify_main_clean(REPOSITORY_PARAM, merged, "{{ params.bad_batches }}")

    create_ingest_branch >> merged >> audited >> revert_bad_merges
    revert_bad_merges >> verified
    delete_when_done(create_ingest_branch, after=verified, task_id="cleanup")
