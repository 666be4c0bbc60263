"""``rollback_bad_ingest``: bad micro-batches merged into main are reverted in one step."""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
import pytest

from .conftest import RunDag, failure_excerpt
from .repo_reads import branches, log, objects, parquet

pytestmark = pytest.mark.slow
DAY = "2026-11-20"
PREFIX = f"events/orders/date={DAY}/"


@pytest.fixture(scope="module")
def ingest_run(run_dag: RunDag, client: Any, repository: str) -> dict[str, Any]:
    before = log(client, repository, "main")[0].id
    result = run_dag("rollback_bad_ingest", DAY, batches=5, bad_batches=[1, 3])
    assert result.succeeded, failure_excerpt(result.output)
    newest = next(
        c
        for c in log(client, repository, "main")
        if c.metadata.get("batch") == "4" and len(c.parents) > 1
    )
    return {"result": result, "before": before, "newest_batch_merge": newest.id}


def test_bad_batches_are_gone_from_main_and_good_ones_stay(
    ingest_run: dict[str, Any], client: Any, repository: str
) -> None:
    paths = sorted(o.path for o in objects(client, repository, "main", PREFIX))
    assert paths == [f"{PREFIX}batch-{b:03d}.parquet" for b in (0, 2, 4)]
    for path in paths:
        amounts = parquet(client, repository, "main", path).column("amount")
        assert pc.min(amounts).as_py() > 0


def test_all_bad_merges_are_reverted_by_one_commit_on_main(
    ingest_run: dict[str, Any], client: Any, repository: str
) -> None:
    result = ingest_run["result"]
    history = log(client, repository, "main")
    head = history[0]
    assert head.metadata["airflow.dag_id"] == "rollback_bad_ingest"
    assert head.metadata["airflow.run_id"] == result.run_id
    assert head.metadata["airflow.task_id"] == "revert_bad_merges"
    # All five batches were merged into main by this run before the audit.
    merges = [
        c
        for c in history
        if c.metadata.get("airflow.task_id") == "ingest_batches" and len(c.parents) > 1
    ]
    assert sorted(int(c.metadata["batch"]) for c in merges) == [0, 1, 2, 3, 4]
    assert all(c.metadata["airflow.run_id"] == result.run_id for c in merges)
    # Just before the revert, main still served both bad batches: one commit removed both.
    before_revert = head.parents[0]
    assert before_revert == ingest_run["newest_batch_merge"]
    on_parent = {o.path for o in objects(client, repository, before_revert, PREFIX)}
    assert {f"{PREFIX}batch-001.parquet", f"{PREFIX}batch-003.parquet"} <= on_parent
    diff = client.refs_api.diff_refs(repository, before_revert, head.id, type="two_dot").results
    assert sorted((d.type, d.path) for d in diff) == [
        ("removed", f"{PREFIX}batch-001.parquet"),
        ("removed", f"{PREFIX}batch-003.parquet"),
    ]


def test_ingest_branch_is_deleted_after_the_run(
    ingest_run: dict[str, Any], client: Any, repository: str
) -> None:
    assert branches(client, repository) == ["main"]
