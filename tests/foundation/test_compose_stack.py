"""Bring the compose stack up with pytest-docker and run the main DAG in it.

Needs a Docker engine; where none runs (as on the CI machines of this project) the test
is skipped with that reason. Everything the stack runs is also covered by local-process
tests (server on PostgreSQL + S3, the example DAGs with `airflow dags test`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker


def _docker_engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "no Docker engine is running on this machine (`docker info` failed)"
    return None


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(ROOT / "docker-compose.yml")


def test_compose_stack_runs_the_main_dag(request: pytest.FixtureRequest) -> None:
    problem = _docker_engine_problem()
    if problem:
        pytest.skip(problem)
    services = request.getfixturevalue("docker_services")
    port = services.port_for("lakever-proxy", 8000)
    services.wait_until_responsive(
        timeout=600.0,
        pause=2.0,
        check=lambda: (
            subprocess.run(
                ["curl", "-fsS", f"http://127.0.0.1:{port}/api/v1/healthcheck"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ),
    )
    run = subprocess.run(
        [
            "docker",
            "compose",
            "-f",
            str(ROOT / "docker-compose.yml"),
            "exec",
            "-T",
            "airflow-scheduler",
            "airflow",
            "dags",
            "test",
            "lakefs_workflow",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
