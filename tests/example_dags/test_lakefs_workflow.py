"""``lakefs_workflow`` with a real PySpark job, then ``troubleshoot_failed_run`` on its failure.

One good run publishes a day; one run whose job is corrupted fails its quality check,
leaves ``main`` untouched and keeps its branch; the troubleshooting DAG then branches at
that run's recorded commit and reproduces the failure.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from lakever_examples.repository import seed_orders

from airflow_provider_lakever.utils.naming import run_branch_name

from .conftest import RunDag, failure_excerpt
from .repo_reads import branches, log, objects, parquet

pytestmark = pytest.mark.slow
GOOD_DAY = "2026-11-19"
BAD_DAY = "2026-11-20"


def totals_prefix(day: str) -> str:
    return f"tables/region_totals/date={day}/"


def orders_path(day: str) -> str:
    return f"raw/orders/date={day}/orders.csv"


def parquet_parts(client: Any, repository: str, ref: str, day: str) -> list[str]:
    """The Parquet files Spark wrote for ``day`` (its ``_SUCCESS`` marker aside)."""
    listed = objects(client, repository, ref, totals_prefix(day))
    return [o.path for o in listed if o.path.endswith(".parquet")]


def expected_totals(client: Any, repository: str, ref: str, day: str) -> list[dict[str, Any]]:
    """Revenue per region recomputed here, with pyarrow, from the committed input."""
    csv = bytes(client.objects_api.get_object(repository, ref, orders_path(day)))
    orders = pacsv.read_csv(pa.BufferReader(csv))
    grouped = orders.group_by("region").aggregate([("order_id", "count"), ("amount", "sum")])
    rows: list[dict[str, Any]] = (
        grouped.rename_columns(["region", "orders", "revenue"]).sort_by("region").to_pylist()
    )
    return rows


@pytest.fixture(scope="module")
def seeded(client: Any, repository: str) -> dict[str, str]:
    good = seed_orders(client, repository, GOOD_DAY)
    return {GOOD_DAY: good, BAD_DAY: seed_orders(client, repository, BAD_DAY)}


@pytest.fixture(scope="module")
def good_run(run_dag: RunDag, client: Any, repository: str, seeded: dict[str, str]) -> Any:
    before = log(client, repository, "main")[0].id
    started = time.monotonic()
    result = run_dag("lakefs_workflow", GOOD_DAY)
    print(f"lakefs_workflow (Spark local[1]) took {time.monotonic() - started:.1f}s")
    assert result.succeeded, failure_excerpt(result.output)
    return {
        "result": result,
        "before": before,
        "head": log(client, repository, "main")[0],
        "branches": branches(client, repository),
    }


@pytest.fixture(scope="module")
def bad_run(run_dag: RunDag, client: Any, repository: str, good_run: Any) -> Any:
    before = log(client, repository, "main")[0].id
    result = run_dag("lakefs_workflow", BAD_DAY, corrupt=True)
    assert result.state == "failed", failure_excerpt(result.output)
    return {"result": result, "before": before}


@pytest.fixture(scope="module")
def troubleshooting(run_dag: RunDag, bad_run: Any) -> Any:
    result = run_dag("troubleshoot_failed_run", BAD_DAY, failed_run_id=bad_run["result"].run_id)
    assert result.succeeded, failure_excerpt(result.output)
    return result


def test_spark_job_publishes_the_totals_of_the_committed_input_on_main(
    good_run: Any, client: Any, repository: str
) -> None:
    parts = [o.path for o in objects(client, repository, "main", totals_prefix(GOOD_DAY))]
    # Spark's own committer wrote through WebHDFS: one part file named as Spark names it,
    # and nothing else (no _SUCCESS marker, no _temporary leftovers, no directory marker).
    assert len(parts) == 1, parts
    assert re.fullmatch(
        re.escape(totals_prefix(GOOD_DAY)) + r"part-00000-[0-9a-f-]+-c000\S*\.parquet", parts[0]
    )
    totals = parquet(client, repository, "main", parts[0])
    assert totals.sort_by("region").to_pylist() == expected_totals(
        client, repository, "main", GOOD_DAY
    )


def test_spark_job_signs_in_to_webhdfs_without_logging_the_secret(
    good_run: Any, server: Any
) -> None:
    output = good_run["result"].output
    (command,) = [line for line in output.splitlines() if "Spark-Submit cmd" in line]
    assert f"--webhdfs webhdfs://127.0.0.1:{server.port}" in command
    assert f"oauth2.client.id={server.access_key_id}" in command
    assert f"oauth2.refresh.url={server.url}/webhdfs/oauth2/token" in command
    assert "oauth2.credential" not in command
    assert server.secret_access_key not in output


def test_main_records_the_run_commit_and_its_merge_with_dag_and_run_ids(
    good_run: Any, client: Any, repository: str, seeded: dict[str, str]
) -> None:
    merge, run_id = good_run["head"], good_run["result"].run_id
    assert merge.parents[0] == good_run["before"]
    assert merge.metadata["airflow.dag_id"] == "lakefs_workflow"
    assert merge.metadata["airflow.run_id"] == run_id
    assert merge.metadata["airflow.task_id"] == "merge"
    assert merge.metadata["quality_check"] == "passed"
    run_commit = client.commits_api.get_commit(repository, merge.parents[1])
    assert run_commit.metadata["airflow.run_id"] == run_id
    assert run_commit.metadata["airflow.task_id"] == "commit"
    assert run_commit.metadata["date"] == GOOD_DAY
    # The run branched at exactly the commit where the sensor found the committed input.
    assert run_commit.metadata["input_commit"] == seeded[BAD_DAY]
    assert run_commit.parents == [seeded[BAD_DAY]]


def test_successful_run_deletes_its_branch(good_run: Any) -> None:
    assert good_run["branches"] == ["main"]


def test_corrupt_run_is_stopped_by_the_quality_check_and_main_is_unchanged(
    bad_run: Any, client: Any, repository: str
) -> None:
    assert log(client, repository, "main")[0].id == bad_run["before"]
    assert objects(client, repository, "main", totals_prefix(BAD_DAY)) == []
    output = bad_run["result"].output
    assert "unfit to publish" in output
    assert "negative revenue" in output
    assert "nothing reached main: it is unchanged" in output


def test_failed_run_keeps_its_branch_with_the_commit_it_made(
    bad_run: Any, client: Any, repository: str
) -> None:
    run_id = bad_run["result"].run_id
    branch = run_branch_name("lakefs_workflow", run_id)
    assert branch in branches(client, repository)
    head = log(client, repository, branch)[0]
    assert head.metadata["airflow.run_id"] == run_id
    assert head.metadata["airflow.task_id"] == "commit"
    (part,) = parquet_parts(client, repository, head.id, BAD_DAY)
    revenue = parquet(client, repository, head.id, part)["revenue"].to_pylist()
    assert revenue
    assert all(r < 0 for r in revenue)


def test_troubleshooting_branches_at_the_failed_commit_and_reproduces(
    troubleshooting: Any, bad_run: Any, client: Any, repository: str
) -> None:
    failed_branch = run_branch_name("lakefs_workflow", bad_run["result"].run_id)
    failed_commit = log(client, repository, failed_branch)[0]
    debug = run_branch_name("troubleshoot_failed_run", troubleshooting.run_id, prefix="debug")
    findings_commit = log(client, repository, debug)[0]
    assert findings_commit.parents == [failed_commit.id]
    assert findings_commit.metadata["investigated_run_id"] == bad_run["result"].run_id
    findings = json.loads(
        bytes(client.objects_api.get_object(repository, debug, "_debug/findings.json"))
    )
    assert findings["failed_run"]["commit_id"] == failed_commit.id
    assert any("negative revenue" in p for p in findings["reproduced_problems"])


def test_troubleshooting_reads_the_input_by_commit_id(
    troubleshooting: Any, bad_run: Any, client: Any, repository: str
) -> None:
    debug = run_branch_name("troubleshoot_failed_run", troubleshooting.run_id, prefix="debug")
    findings = json.loads(
        bytes(client.objects_api.get_object(repository, debug, "_debug/findings.json"))
    )
    # The failed run's sensor saw its input at main's head then: the good run's merge.
    input_commit = bad_run["before"]
    assert findings["input"]["input"] == f"s3://{repository}/{input_commit}/{orders_path(BAD_DAY)}"
    expected = expected_totals(client, repository, input_commit, BAD_DAY)
    assert findings["input"]["expected_revenue"] == {r["region"]: r["revenue"] for r in expected}
    assert findings["input"]["orders"] == sum(r["orders"] for r in expected)
