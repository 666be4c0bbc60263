"""``cross_collection_consistency``: sales, marketing and leads reach main in one merge."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from .conftest import RunDag, failure_excerpt
from .repo_reads import branches, log, objects, parquet

pytestmark = pytest.mark.slow
DAY = "2026-11-20"
TABLES = {
    name: f"collections/{name}/date={DAY}/{name}.parquet"
    for name in ("sales", "marketing", "leads")
}


@pytest.fixture(scope="module")
def published(run_dag: RunDag, client: Any, repository: str) -> dict[str, Any]:
    before = log(client, repository, "main")[0].id
    result = run_dag("cross_collection_consistency", DAY)
    assert result.succeeded, failure_excerpt(result.output)
    return {"result": result, "before": before, "head": log(client, repository, "main")[0]}


def test_one_merge_commit_brings_all_three_tables_to_main(
    published: dict[str, Any], client: Any, repository: str
) -> None:
    head = published["head"]
    assert head.parents[0] == published["before"]
    assert len(head.parents) == 2
    diff = client.refs_api.diff_refs(repository, head.parents[0], head.id, type="two_dot")
    assert sorted((d.type, d.path) for d in diff.results) == sorted(
        ("added", path) for path in TABLES.values()
    )
    # The state before that merge held none of them: readers never saw one without the other.
    assert objects(client, repository, published["before"], "collections/") == []


def test_publish_commit_names_the_dag_run_and_the_collections(
    published: dict[str, Any],
) -> None:
    metadata = published["head"].metadata
    assert metadata["airflow.dag_id"] == "cross_collection_consistency"
    assert metadata["airflow.run_id"] == published["result"].run_id
    assert metadata["airflow.task_id"] == "publish"
    assert metadata["collections"] == "sales,marketing,leads"


def test_leads_on_main_are_the_join_of_sales_and_marketing_on_main(
    published: dict[str, Any], client: Any, repository: str
) -> None:
    sales, marketing, leads = (
        parquet(client, repository, "main", TABLES[name])
        for name in ("sales", "marketing", "leads")
    )
    campaign_of = dict(
        zip(marketing["customer"].to_pylist(), marketing["campaign"].to_pylist(), strict=True)
    )
    expected = sorted(
        (customer, revenue, campaign_of[customer])
        for customer, revenue in zip(
            sales["customer"].to_pylist(), sales["revenue"].to_pylist(), strict=True
        )
        if customer in campaign_of
    )
    assert expected, "the sample sources share customers"
    rows = leads.select(["customer", "revenue", "campaign"]).to_pylist()
    assert [(r["customer"], r["revenue"], r["campaign"]) for r in rows] == expected
    assert leads.schema.field("revenue").type == pa.int64()


def test_the_three_branches_are_deleted(
    published: dict[str, Any], client: Any, repository: str
) -> None:
    assert branches(client, repository) == ["main"]
