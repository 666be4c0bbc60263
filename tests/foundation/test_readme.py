"""The README's promises: its two commands exist, and its DAG example builds that DAG."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", text, flags=re.MULTILINE))


def test_quickstart_is_exactly_make_demo_and_make_test() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(make \w+)", quickstart, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]
    assert {"demo", "test"} <= _makefile_targets()


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "ran no test" in ci


def test_readme_dag_example_builds_a_branch_per_run_dag() -> None:
    block = re.search(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    dag = namespace["daily_events"]()
    task_ids = set(dag.task_ids)
    for step in ("create_branch", "write_events", "commit", "merge", "rollback"):
        assert f"ingest.{step}" in task_ids, f"the README DAG has no {step} task: {task_ids}"
    create, work = dag.get_task("ingest.create_branch"), dag.get_task("ingest.write_events")
    assert work.task_id in create.downstream_task_ids
