"""Branch-per-run DAGs: a happy path, failing checks, a conflict, a failure after merge.

Each DAG uses its own repository (created by the tests) on the ``lakever_default``
connection, which the tests point at a real server process.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_lakever.decorators.branch_per_run import branch_per_run
from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.objects import UploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
HAPPY_REPOSITORY = "happy-path"
FAILING_REPOSITORY = "failing-check"
CONFLICT_REPOSITORY = "merge-conflict"
AFTER_MERGE_REPOSITORY = "after-merge"
PUBLISHED_ASSET = Asset(f"lakefs://{HAPPY_REPOSITORY}/main/events")

#: Every DAG of this file by id, for the tests (``DAGS[dag_id].test()``).
DAGS: dict[str, DAG] = {}


def _load_events(repository: str) -> object:
    def work(branch: object) -> None:
        for name in ("a", "b"):
            UploadOperator(
                task_id=f"load_{name}",
                repository=repository,
                branch=branch,  # type: ignore[arg-type]
                path=f"events/{name}.json",
                content='{"event": "' + name + '", "run": "{{ run_id }}"}',
            )

    return work


@task
def count_new_events(branch: str, commit_id: str, repository: str, minimum: int) -> int:
    """A quality check: the run must write at least ``minimum`` event files."""
    hook = LakeverHook()
    changes = hook.diff(repository, "main", commit_id)
    written = [d.path for d in changes if d.type in ("added", "changed")]
    if len(written) < minimum:
        raise ValueError(f"quality check failed: {len(written)} event files, need {minimum}")
    return len(written)


with DAG("lakever_happy_path", schedule=None, start_date=START, catchup=False) as dag:
    branch_per_run(
        repository=HAPPY_REPOSITORY,
        work=_load_events(HAPPY_REPOSITORY),
        checks=lambda branch, commit: count_new_events(branch, commit, HAPPY_REPOSITORY, 2),
        publishes=["events"],
    )
    DAGS[dag.dag_id] = dag

with DAG(
    "lakever_asset_consumer", schedule=[PUBLISHED_ASSET], start_date=START, catchup=False
) as dag:

    @task
    def read_merged() -> None:
        """Downstream of the merge; the event's extra says which commit to read."""

    read_merged()
    DAGS[dag.dag_id] = dag

for keep in (True, False):
    with DAG(
        f"lakever_failing_check_{'keep' if keep else 'delete'}_branch",
        schedule=None,
        start_date=START,
        catchup=False,
    ) as dag:
        branch_per_run(
            repository=FAILING_REPOSITORY,
            work=_load_events(FAILING_REPOSITORY),
            checks=lambda branch, commit: count_new_events(branch, commit, FAILING_REPOSITORY, 100),
            keep_branch_on_failure=keep,
        )
        DAGS[dag.dag_id] = dag


@task
def concurrent_writer(repository: str) -> str:
    """Another pipeline publishes different content at the same paths meanwhile."""
    hook = LakeverHook()
    hook.create_branch(repository, "other-pipeline", "main")
    for path in ("shared/a.csv", "shared/b.csv"):
        hook.upload(repository, "other-pipeline", path, b"id\n1\n")
    hook.commit(repository, "other-pipeline", message="other pipeline", metadata={})
    return hook.merge(repository, "other-pipeline", "main")


def _conflicting_work(branch: object) -> None:
    uploads = [
        UploadOperator(
            task_id=f"write_{name}",
            repository=CONFLICT_REPOSITORY,
            branch=branch,  # type: ignore[arg-type]
            path=f"shared/{name}.csv",
            content="id\n2\n",
        )
        for name in ("a", "b")
    ]
    # Runs after the run branch exists, so main moves on under it.
    uploads >> concurrent_writer(CONFLICT_REPOSITORY)


with DAG(
    "lakever_merge_conflict",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={"retries": 2},
) as dag:
    branch_per_run(repository=CONFLICT_REPOSITORY, work=_conflicting_work)
    DAGS[dag.dag_id] = dag


@task
def publish_downstream(merge_commit_id: str) -> None:
    raise RuntimeError(f"the downstream export of {merge_commit_id} failed")


with DAG("lakever_failure_after_merge", schedule=None, start_date=START, catchup=False) as dag:
    branch_per_run(
        repository=AFTER_MERGE_REPOSITORY,
        work=_load_events(AFTER_MERGE_REPOSITORY),
        after_merge=publish_downstream,
    )
    DAGS[dag.dag_id] = dag
