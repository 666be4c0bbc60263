"""``chaos_recovery``: two parallel copies publish the day once; a deleted partition returns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import RunDag, failure_excerpt
from .repo_reads import branches, log, objects

pytestmark = pytest.mark.slow
DAY = "2026-11-20"
PARTITION = f"events/orders_daily/date={DAY}/"


@pytest.fixture(scope="module")
def chaos_run(run_dag: RunDag, client: Any, repository: str) -> dict[str, Any]:
    before = log(client, repository, "main")[0].id
    result = run_dag("chaos_recovery", DAY)
    assert result.succeeded, failure_excerpt(result.output)
    return {"result": result, "before": before, "history": log(client, repository, "main")}


def publishes(chaos_run: dict[str, Any]) -> list[Any]:
    return [
        c
        for c in chaos_run["history"]
        if (c.metadata or {}).get("airflow.task_id", "").startswith("publish_")
    ]


def test_exactly_one_of_the_two_parallel_runs_merged_into_main(
    chaos_run: dict[str, Any],
) -> None:
    merged = publishes(chaos_run)
    assert len(merged) == 1
    assert merged[0].metadata["airflow.run_id"] == chaos_run["result"].run_id
    assert len(merged[0].parents) == 2


def test_the_losing_run_explains_why_it_did_not_merge(chaos_run: dict[str, Any]) -> None:
    (winner,) = publishes(chaos_run)
    loser = "b" if winner.metadata["airflow.task_id"] == "publish_a" else "a"
    output = chaos_run["result"].output
    assert f"publish_{loser}" in output
    assert "is already published on main by chaos-" in output
    assert "main is unchanged" in output


def test_main_holds_one_copy_of_the_day_written_by_the_winner(
    chaos_run: dict[str, Any], client: Any, repository: str
) -> None:
    paths = sorted(o.path for o in objects(client, repository, "main", PARTITION))
    assert len(paths) == 2, paths
    marker, part = paths  # "_SUCCESS" sorts before "part-…"
    assert marker == f"{PARTITION}_SUCCESS"
    written = json.loads(bytes(client.objects_api.get_object(repository, "main", marker)))
    assert written["part"] == part
    (winner,) = publishes(chaos_run)
    assert written["written_by"] in winner.message


def test_the_accidental_delete_is_reverted_byte_for_byte(
    chaos_run: dict[str, Any], client: Any, repository: str
) -> None:
    history = chaos_run["history"]
    head = history[0]
    assert head.metadata["airflow.task_id"] == "revert_delete"
    assert head.metadata["airflow.run_id"] == chaos_run["result"].run_id
    deletion = head.parents[0]
    assert objects(client, repository, deletion, PARTITION) == []
    (winner,) = publishes(chaos_run)
    restored = {o.path: o.checksum for o in objects(client, repository, "main", PARTITION)}
    published = {o.path: o.checksum for o in objects(client, repository, winner.id, PARTITION)}
    assert restored == published


def test_run_branches_are_deleted(chaos_run: dict[str, Any], client: Any, repository: str) -> None:
    assert branches(client, repository) == ["main"]
