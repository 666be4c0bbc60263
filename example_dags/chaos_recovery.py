"""Chaos in data flows: a job run twice in parallel, and a partition deleted by accident.

Story (chaos): the same daily job gets triggered twice and both copies run at once; with
plain object storage the day would land twice (Spark names its part files uniquely, so
nothing overwrites). Here each copy writes to its own run branch, and each also writes the
day's ``_SUCCESS`` marker: two runs of the same day conflict on it, so the server lets
exactly one merge into ``main`` and refuses the other atomically. The loser's publish
task explains that the day is already published and changes nothing.

Then someone deletes the day's partition (on a branch merged into ``main``, as a careless
cleanup job would). ``find_partition_delete`` finds the commit that removed it and a
revert brings it back, byte for byte.

- ``create_branch_{a,b}`` → ``write_day_{a,b}`` → ``commit_{a,b}`` → ``publish_{a,b}``
- ``check_one_copy``: exactly one copy of the day on ``main``, from exactly one run
- ``accidental_delete`` → ``find_partition_delete`` → ``revert_delete`` → ``verify_restored``
- ``cleanup_*``: teardowns deleting the run branches

Params: ``repository``.
"""

from __future__ import annotations

import json
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from lakever_examples import CONN_ID, DEFAULT_REPOSITORY, REPOSITORY_PARAM
from lakever_examples.branches import created_branch, delete_when_done
from lakever_examples.data import orders_table, parquet_bytes

from airflow_provider_lakever.exceptions import MergeConflictError
from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator
from airflow_provider_lakever.operators.commit import CommitOperator
from airflow_provider_lakever.operators.revert import RevertOperator
from airflow_provider_lakever.utils.stamps import stamped, task_stamp

ATTEMPTS = ("a", "b")
EVENTS_PREFIX = "events/orders_daily/"


def partition(day: str) -> str:
    """The day's partition prefix on ``main``."""
    return f"{EVENTS_PREFIX}date={day}/"


with DAG(
    dag_id="chaos_recovery",
    description="Two parallel copies of a job publish one day once; a deleted partition returns",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"repository": Param(DEFAULT_REPOSITORY, type="string")},
    tags=["lakever", "example", "chaos"],
    doc_md=__doc__,
) as dag:

    @task
    def write_day(attempt: str, repository: str, branch: str, day: str) -> str:
        """Write the day as a uniquely named part file plus the day's ``_SUCCESS`` marker."""
        hook = LakeverHook(CONN_ID)
        path = f"{partition(day)}part-{attempt}-{branch[-10:]}.parquet"
        hook.upload(repository, branch, path, parquet_bytes(orders_table(day, rows=50)))
        marker = {"written_by": branch, "part": path}
        hook.upload(repository, branch, f"{partition(day)}_SUCCESS", json.dumps(marker).encode())
        return path

    @task
    def publish(repository: str, branch: str, day: str) -> dict[str, Any]:
        """Merge the run branch into ``main``, unless another run published the day first."""
        hook = LakeverHook(CONN_ID)
        metadata = stamped({"date": day}, task_stamp(get_current_context(), "merge"))
        try:
            merge_id = hook.merge(
                repository,
                branch,
                "main",
                message=f"Publish {day} from {branch}",
                metadata=metadata,
            )
        except MergeConflictError as conflict:
            marker = f"{partition(day)}_SUCCESS"
            if marker not in conflict.paths:
                raise
            published = json.loads(hook.get_object(repository, "main", marker))
            reason = (
                f"{day} is already published on main by {published['written_by']}: "
                f"not merging {branch} (its marker conflicts), main is unchanged"
            )
            print(reason)
            return {"merged": False, "branch": branch, "reason": reason}
        return {"merged": True, "branch": branch, "merge_commit": merge_id}

    @task
    def check_one_copy(repository: str, day: str, outcomes: list[dict[str, Any]]) -> dict:
        """Exactly one run merged, and ``main`` holds exactly one part file of the day."""
        hook = LakeverHook(CONN_ID)
        merged = [o for o in outcomes if o["merged"]]
        parts = [
            s.path
            for s in hook.list_objects(repository, "main", prefix=partition(day))
            if s.path.endswith(".parquet")
        ]
        if len(merged) != 1 or len(parts) != 1:
            raise AirflowFailException(f"{len(merged)} runs merged, {len(parts)} copies on main")
        stats = hook.stat_object(repository, "main", parts[0])
        return {"winner": merged[0]["branch"], "part": parts[0], "checksum": stats.checksum}

    @task
    def accidental_delete(repository: str, day: str) -> str:
        """A careless cleanup job deletes the day's partition and merges that into main."""
        hook = LakeverHook(CONN_ID)
        context = get_current_context()
        branch = f"oops-{task_stamp(context, 'oops')['lakever.idempotency_key'][:12]}"
        hook.create_branch(repository, branch, "main")
        try:
            for stats in hook.list_objects(repository, branch, prefix=partition(day)):
                hook.client.objects_api.delete_object(repository, branch, stats.path)
            hook.commit(repository, branch, message=f"Clean up old files of {day}", metadata={})
            return hook.merge(repository, branch, "main", message=f"Merge cleanup of {day}")
        finally:
            hook.delete_branch(repository, branch)

    @task
    def find_partition_delete(repository: str, day: str) -> str:
        """The newest commit on ``main`` that removed objects of the day's partition."""
        hook = LakeverHook(CONN_ID)
        if any(True for _ in hook.list_objects(repository, "main", prefix=partition(day))):
            raise AirflowFailException(f"{partition(day)} is on main: nothing to restore")
        for commit in hook.iter_log(repository, "main", limit=1000):
            if not commit.parents:
                break
            removed = [
                d.path
                for d in hook.diff(
                    repository,
                    commit.parents[0],
                    commit.id,
                    prefix=partition(day),
                    diff_type="two_dot",
                )
                if d.type == "removed"
            ]
            if removed:
                print(f"{commit.id} ({commit.message}) removed {removed}")
                return str(commit.id)
        raise AirflowFailException(f"no commit on main removed {partition(day)}")

    @task
    def verify_restored(repository: str, day: str, published: dict[str, Any]) -> str:
        """The day's part file is back on ``main`` with the checksum it was published with."""
        stats = LakeverHook(CONN_ID).stat_object(repository, "main", published["part"])
        if stats is None or stats.checksum != published["checksum"]:
            raise AirflowFailException(f"{published['part']} is not restored as published")
        return str(stats.checksum)

    outcomes = []
    creates = []
    writes = []
    for attempt in ATTEMPTS:
        create = CreateBranchOperator(
            task_id=f"create_branch_{attempt}",
            repository=REPOSITORY_PARAM,
            branch_prefix=f"chaos-{attempt}",
        )
        branch = created_branch(create.task_id)
        written = write_day.override(task_id=f"write_day_{attempt}")(
            attempt, REPOSITORY_PARAM, branch, "{{ ds }}"
        )
        commit = CommitOperator(
            task_id=f"commit_{attempt}",
            repository=REPOSITORY_PARAM,
            branch=branch,
            message=f"Orders of {{{{ ds }}}}, copy {attempt}",
            metadata={"date": "{{ ds }}", "attempt": attempt},
        )
        published = publish.override(task_id=f"publish_{attempt}")(
            REPOSITORY_PARAM, branch, "{{ ds }}"
        )
        written >> commit >> published
        creates.append(create)
        writes.append(written)
        outcomes.append(published)
    # Both copies branch off the same main before either publishes: they run "at once".
    for create in creates:
        create >> writes

    checked = check_one_copy(REPOSITORY_PARAM, "{{ ds }}", outcomes)
    deleted = accidental_delete(REPOSITORY_PARAM, "{{ ds }}")
    found = find_partition_delete(REPOSITORY_PARAM, "{{ ds }}")
    revert_delete = RevertOperator(
        task_id="revert_delete",
        repository=REPOSITORY_PARAM,
        branch="main",
        refs="{{ ti.xcom_pull(task_ids='find_partition_delete') }}",
        message="Restore {{ ds }}: revert the accidental delete",
    )
    restored = verify_restored(REPOSITORY_PARAM, "{{ ds }}", checked)
    checked >> deleted >> found >> revert_delete >> restored
    for attempt, create in zip(ATTEMPTS, creates, strict=True):
        delete_when_done(create, after=restored, task_id=f"cleanup_{attempt}")
