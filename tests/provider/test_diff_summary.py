"""The diff summary that quality checks read: counts, paths, and per-prefix counts."""

from __future__ import annotations

from airflow_provider_lakever.operators.objects import summarize_diff

CHANGES = [
    ("added", "events/2026/a.parquet"),
    ("added", "events/2026/b.parquet"),
    ("changed", "users/u.csv"),
    ("removed", "events/2025/old.parquet"),
    ("added", "README.md"),
]


def test_counts_by_kind_and_total() -> None:
    summary = summarize_diff(CHANGES)
    assert (summary["added"], summary["changed"], summary["removed"]) == (3, 1, 1)
    assert summary["total"] == 5
    assert summary["truncated"] is False


def test_paths_are_listed_by_kind() -> None:
    summary = summarize_diff(CHANGES)
    assert summary["paths"]["added"] == [
        "events/2026/a.parquet",
        "events/2026/b.parquet",
        "README.md",
    ]
    assert summary["paths"]["removed"] == ["events/2025/old.parquet"]


def test_counts_by_leading_prefix_with_top_level_files_under_the_empty_prefix() -> None:
    summary = summarize_diff(CHANGES)
    assert summary["by_prefix"] == {
        "": {"added": 1, "changed": 0, "removed": 0},
        "events/": {"added": 2, "changed": 0, "removed": 1},
        "users/": {"added": 0, "changed": 1, "removed": 0},
    }


def test_deeper_prefixes() -> None:
    summary = summarize_diff(CHANGES, prefix_depth=2)
    assert summary["by_prefix"]["events/2026/"]["added"] == 2
    assert summary["by_prefix"]["events/2025/"]["removed"] == 1


def test_path_lists_are_bounded_but_counts_stay_exact() -> None:
    many = [("added", f"big/{i:05d}") for i in range(50)]
    summary = summarize_diff(many, max_paths=10)
    assert summary["added"] == 50
    assert len(summary["paths"]["added"]) == 10
    assert summary["truncated"] is True


def test_an_empty_diff() -> None:
    summary = summarize_diff([])
    assert summary["total"] == 0
    assert summary["paths"] == {"added": [], "changed": [], "removed": []}
    assert summary["by_prefix"] == {}
