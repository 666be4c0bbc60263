"""Fixtures of the example DAG tests: a real server per module, Airflow per worker.

Each module gets its own ``lakever-server`` process (``tests.support.server``). Airflow's
home and its metadata database come from ``tests.support.airflow_home`` (one migration per
worker process); every DAG runs with ``airflow dags test`` as a subprocess whose DAGs
folder is ``example_dags/`` and whose ``lakever_default`` connection points at the server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
if str(EXAMPLE_DAGS) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DAGS))

from lakever_examples.local_run import (  # noqa: E402  (needs example_dags on sys.path)
    DagTestResult,
    LakeverEndpoint,
    airflow_env,
    dags_test,
    failure_excerpt,
)
from lakever_examples.repository import ensure_repository  # noqa: E402

RunDag = Callable[..., DagTestResult]
__all__ = ["RunDag", "failure_excerpt"]


@pytest.fixture(scope="module")
def server(lakever_server: RunningServer) -> RunningServer:  # noqa: F811
    return lakever_server


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Any:
    """A ``lakefs_sdk`` client of the quickstart admin."""
    return server.lakefs_sdk_client()


@pytest.fixture(scope="module")
def repository(client: Any, request: pytest.FixtureRequest) -> str:
    """A repository of this module's own, named after it."""
    name = str(request.module.__name__).rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    ensure_repository(client, name[:40])
    return name[:40]


@pytest.fixture(scope="module")
def run_dag(server: RunningServer, airflow_db: Path, repository: str) -> RunDag:
    """Run an example DAG to its end with ``airflow dags test`` against ``server``."""
    env = airflow_env(
        Path(os.environ["AIRFLOW_HOME"]),
        LakeverEndpoint(server.url, server.access_key_id, server.secret_access_key),
    )

    def run(dag_id: str, day: str, **params: Any) -> DagTestResult:
        result = dags_test(env, dag_id, day, {"repository": repository, **params})
        if result.state is None:
            raise AssertionError(f"{dag_id} did not finish:\n{failure_excerpt(result.output)}")
        return result

    return run
