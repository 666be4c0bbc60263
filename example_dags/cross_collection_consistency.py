"""Cross-collection consistency: two sources, one join, one atomic publish.

Story: Sales and Marketing are ingested on their own branches. Both merge into a
``leads`` branch where the join runs; the joined table then merges into ``main`` in one
atomic step, so readers of ``main`` see the sales, the campaigns and the leads built
from them together, or none of them: never a leads table without its inputs.

- ``create_{sales,marketing,leads}_branch`` from ``main``
- ``ingest_sales`` / ``ingest_marketing`` + ``commit_sales`` / ``commit_marketing``
- ``merge_sales_into_leads`` / ``merge_marketing_into_leads``
- ``join_leads`` + ``commit_leads`` on the leads branch
- ``publish``: the leads branch into ``main``, one merge commit
- ``cleanup_*``: teardowns deleting the three branches

Params: ``repository``.
"""

from __future__ import annotations

import random

import pendulum
import pyarrow as pa
from airflow.sdk import DAG, Param, task
from lakever_examples import CONN_ID, DEFAULT_REPOSITORY, REPOSITORY_PARAM
from lakever_examples.branches import created_branch, delete_when_done
from lakever_examples.data import parquet_bytes, read_parquet

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator
from airflow_provider_lakever.operators.commit import CommitOperator
from airflow_provider_lakever.operators.merge import MergeOperator

COLLECTIONS = ("sales", "marketing", "leads")
CAMPAIGNS = ("spring-mail", "search-ads", "partner-fair")


def collection_path(collection: str, day: str) -> str:
    """Where one collection's table of ``day`` lives: ``collections/<name>/date=<day>/``."""
    return f"collections/{collection}/date={day}/{collection}.parquet"


def sales_table(day: str) -> pa.Table:
    """Revenue per customer of one day."""
    rng = random.Random(f"sales {day}")
    customers = sorted(rng.sample(range(100), 30))
    return pa.table(
        {
            "customer": [f"c{c:03d}" for c in customers],
            "revenue": pa.array([rng.randrange(1_000, 90_000) for _ in customers], pa.int64()),
        }
    )


def marketing_table(day: str) -> pa.Table:
    """The campaign that reached each customer on one day (overlapping the sales)."""
    rng = random.Random(f"marketing {day}")
    customers = sorted(rng.sample(range(100), 40))
    return pa.table(
        {
            "customer": [f"c{c:03d}" for c in customers],
            "campaign": [rng.choice(CAMPAIGNS) for _ in customers],
        }
    )


def join_leads_table(sales: pa.Table, marketing: pa.Table) -> pa.Table:
    """Customers a campaign reached who bought: the leads that converted."""
    return sales.join(marketing, "customer", join_type="inner").sort_by("customer")


with DAG(
    dag_id="cross_collection_consistency",
    description="Sales + marketing → leads branch (join) → main in one atomic merge",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"repository": Param(DEFAULT_REPOSITORY, type="string")},
    tags=["lakever", "example", "consistency"],
    doc_md=__doc__,
) as dag:
    creates = {
        name: CreateBranchOperator(
            task_id=f"create_{name}_branch", repository=REPOSITORY_PARAM, branch_prefix=name
        )
        for name in COLLECTIONS
    }
    branches = {name: created_branch(create.task_id) for name, create in creates.items()}

    @task
    def ingest(collection: str, repository: str, branch: str, day: str) -> str:
        """Stage one source's table of ``day`` on its own branch."""
        table = sales_table(day) if collection == "sales" else marketing_table(day)
        path = collection_path(collection, day)
        LakeverHook(CONN_ID).upload(repository, branch, path, parquet_bytes(table))
        return path

    @task
    def join_leads(repository: str, branch: str, day: str) -> str:
        """Join sales and marketing on the leads branch, where both are merged."""
        hook = LakeverHook(CONN_ID)
        sales = read_parquet(hook, repository, branch, collection_path("sales", day))
        marketing = read_parquet(hook, repository, branch, collection_path("marketing", day))
        path = collection_path("leads", day)
        hook.upload(repository, branch, path, parquet_bytes(join_leads_table(sales, marketing)))
        return path

    for source in ("sales", "marketing"):
        staged = ingest.override(task_id=f"ingest_{source}")(
            source, REPOSITORY_PARAM, branches[source], "{{ ds }}"
        )
        committed = CommitOperator(
            task_id=f"commit_{source}",
            repository=REPOSITORY_PARAM,
            branch=branches[source],
            message=f"Ingest {source} of {{{{ ds }}}}",
            metadata={"collection": source, "date": "{{ ds }}"},
        )
        into_leads = MergeOperator(
            task_id=f"merge_{source}_into_leads",
            repository=REPOSITORY_PARAM,
            source_ref=branches[source],
            destination_branch=branches["leads"],
            metadata={"collection": source},
        )
        creates[source] >> staged >> committed >> into_leads
        creates["leads"] >> into_leads

    joined = join_leads(REPOSITORY_PARAM, branches["leads"], "{{ ds }}")
    commit_leads = CommitOperator(
        task_id="commit_leads",
        repository=REPOSITORY_PARAM,
        branch=branches["leads"],
        message="Join sales and marketing of {{ ds }} into leads",
        metadata={"collection": "leads", "date": "{{ ds }}"},
    )
    publish = MergeOperator(
        task_id="publish",
        repository=REPOSITORY_PARAM,
        source_ref=branches["leads"],
        destination_branch="main",
        message="Publish sales, marketing and leads of {{ ds }} together",
        metadata={"collections": ",".join(COLLECTIONS), "date": "{{ ds }}"},
    )
    dag.get_task("merge_sales_into_leads") >> joined
    dag.get_task("merge_marketing_into_leads") >> joined
    joined >> commit_leads >> publish
    for name, create in creates.items():
        delete_when_done(create, after=publish, task_id=f"cleanup_{name}")
