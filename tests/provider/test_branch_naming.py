"""Run branch names: valid, bounded, stable, and distinct per run."""

from __future__ import annotations

import pytest

from airflow_provider_lakever.utils.naming import (
    HASH_LENGTH,
    is_valid_branch_name,
    run_branch_name,
    sanitize_branch_name,
)

RUN_IDS = [
    pytest.param("scheduled__2026-11-21T00:00:00+00:00", id="a scheduled run id"),
    pytest.param("manual__2026-11-21T13:51:52.785309+00:00", id="a manual run id"),
    pytest.param("backfill: my run / #1 ??", id="spaces, slashes and punctuation"),
    pytest.param("données-été-ünïcode", id="non-ASCII letters"),
    pytest.param("x" * 500, id="a very long run id"),
    pytest.param("___", id="only underscores"),
    pytest.param("-leading-dash", id="a leading dash"),
]


@pytest.mark.parametrize("run_id", RUN_IDS)
def test_run_branch_name_is_a_valid_bounded_branch_name(run_id: str) -> None:
    name = run_branch_name("daily_ingest", run_id)
    assert is_valid_branch_name(name), name
    assert len(name) <= 64
    assert name.isascii()


@pytest.mark.parametrize("max_length", [12, 20, 40, 255])
def test_max_length_is_respected(max_length: int) -> None:
    name = sanitize_branch_name("run-dag-" + "y" * 300, max_length=max_length)
    assert len(name) <= max_length
    assert is_valid_branch_name(name)


def test_the_same_run_always_gets_the_same_branch() -> None:
    run_id = "scheduled__2026-11-21T00:00:00+00:00"
    assert run_branch_name("dag", run_id) == run_branch_name("dag", run_id)


def test_runs_whose_slugs_collide_still_get_distinct_branches() -> None:
    first = run_branch_name("dag", "run:1")
    second = run_branch_name("dag", "run/1")
    assert first != second
    assert first[:-HASH_LENGTH] == second[:-HASH_LENGTH]


def test_runs_that_differ_only_past_the_truncation_get_distinct_branches() -> None:
    prefix = "z" * 200
    assert run_branch_name("dag", prefix + "a") != run_branch_name("dag", prefix + "b")


def test_two_dags_with_the_same_run_id_get_distinct_branches() -> None:
    run_id = "scheduled__2026-11-21T00:00:00+00:00"
    assert run_branch_name("sales", run_id) != run_branch_name("marketing", run_id)


def test_name_keeps_a_readable_slug() -> None:
    name = run_branch_name("sales", "scheduled__2026-11-21T00:00:00+00:00")
    assert name.startswith("run-sales-scheduled__2026-11-21T00-00-00-00-00-")


def test_too_small_a_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_length"):
        sanitize_branch_name("anything", max_length=HASH_LENGTH)
