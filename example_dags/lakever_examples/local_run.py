"""Run the example DAGs locally with ``airflow dags test``, as the demo and the tests do.

Airflow runs as a subprocess of this interpreter's ``airflow`` with its own
``AIRFLOW_HOME`` and SQLite metadata database, the DAGs folder pointing at
``example_dags/``, and connections handed over as ``AIRFLOW_CONN_<ID>`` JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAGS_FOLDER = Path(__file__).resolve().parent.parent
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


def dags_test(
    env: dict[str, str],
    dag_id: str,
    logical_date: str,
    conf: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one DAG run to its end with ``airflow dags test``; output is captured.

    :param env: from :func:`airflow_env`.
    :param dag_id: the DAG.
    :param logical_date: ``YYYY-MM-DD`` (the run's ``ds``).
    :param conf: the run's conf (its params).
    """
    args = ["dags", "test", dag_id, logical_date]
    if conf:
        args += ["--conf", json.dumps(conf)]
    return subprocess.run(
        airflow_command(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=DAG_TEST_TIMEOUT_S,
        check=False,
    )
