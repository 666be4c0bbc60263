"""Run the example DAGs locally with ``airflow dags test``, as the demo and the tests do.

Airflow runs as a subprocess of this interpreter's ``airflow`` with its own
``AIRFLOW_HOME`` and SQLite metadata database, the DAGs folder pointing at
``example_dags/``, and connections handed over as ``AIRFLOW_CONN_<ID>`` JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAGS_FOLDER = Path(__file__).resolve().parent.parent
_FINISHED = re.compile(r"DagRun Finished: .*?run_id=(?P<run_id>[^,\s]+).*?\bstate=(?P<state>\w+)")
MIGRATE_TIMEOUT_S = 600
DAG_TEST_TIMEOUT_S = 900


@dataclass(frozen=True)
class LakeverEndpoint:
    """The server the DAGs talk to.

    :param url: its base URL, e.g. ``http://127.0.0.1:8000``.
    :param access_key_id: the access key id.
    :param secret_access_key: the secret access key.
    """

    url: str
    access_key_id: str
    secret_access_key: str


def airflow_env(home: Path, server: LakeverEndpoint, **extra: str) -> dict[str, str]:
    """The environment of an Airflow process running the examples against ``server``.

    :param home: the ``AIRFLOW_HOME`` (its ``airflow.db`` is the metadata database).
    :param server: the lakever server.
    :param extra: more variables, e.g. other ``AIRFLOW__SECTION__KEY`` settings.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LAKEVER_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
            "AIRFLOW_CONN_LAKEVER_DEFAULT": json.dumps(
                {
                    "conn_type": "lakever",
                    "host": server.url,
                    "login": server.access_key_id,
                    "password": server.secret_access_key,
                }
            ),
            "AIRFLOW_CONN_SPARK_LOCAL": json.dumps({"conn_type": "spark", "host": "local[1]"}),
            "PYSPARK_PYTHON": sys.executable,
        }
    )
    env.update(extra)
    return env


def airflow_command(*args: str) -> list[str]:
    """``airflow <args>`` with this interpreter."""
    return [sys.executable, "-m", "airflow", *args]


def migrate(env: dict[str, str]) -> None:
    """Create or upgrade the metadata database of ``env``'s ``AIRFLOW_HOME``."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        airflow_command("db", "migrate"),
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")


@dataclass(frozen=True)
class DagTestResult:
    """How one ``airflow dags test`` ended.

    :param dag_id: the DAG.
    :param run_id: the run's id (``None`` when the run never finished).
    :param state: ``success`` or ``failed`` (``None`` when the run never finished).
    :param returncode: the exit code of ``airflow dags test``.
    :param output: its stdout and stderr.
    """

    dag_id: str
    run_id: str | None
    state: str | None
    returncode: int
    output: str

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


def dags_test(
    env: dict[str, str],
    dag_id: str,
    logical_date: str,
    conf: dict[str, Any] | None = None,
) -> DagTestResult:
    """Run one DAG run to its end with ``airflow dags test``; output is captured.

    :param env: from :func:`airflow_env`.
    :param dag_id: the DAG.
    :param logical_date: ``YYYY-MM-DD`` (the run's ``ds``).
    :param conf: the run's conf (its params).
    """
    args = ["dags", "test", dag_id, logical_date]
    if conf:
        args += ["--conf", json.dumps(conf)]
    result = subprocess.run(
        airflow_command(*args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=DAG_TEST_TIMEOUT_S,
        check=False,
    )
    finished = _FINISHED.search(result.stdout)
    return DagTestResult(
        dag_id=dag_id,
        run_id=finished["run_id"] if finished else None,
        state=finished["state"] if finished else None,
        returncode=result.returncode,
        output=result.stdout,
    )


def failure_excerpt(output: str, *, context: int = 30, limit: int = 12_000) -> str:
    """The parts of a ``dags test`` output that explain a failure: errors, tracebacks."""
    lines = output.splitlines()
    keep: set[int] = set()
    for index, line in enumerate(lines):
        if "[error" in line or "Traceback" in line or "new_state=failed" in line:
            keep.update(range(max(0, index - 3), min(len(lines), index + context)))
    excerpt = "\n".join(lines[i] for i in sorted(keep)) or "\n".join(lines[-context:])
    return excerpt[-limit:]
