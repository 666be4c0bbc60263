"""Fixtures of the provider tests: an isolated Airflow home, its metadata DB, connections.

Airflow reads its configuration when first imported, so the environment is set here, at
collection time, before any test module imports ``airflow``. Each process (each xdist
worker) gets its own ``AIRFLOW_HOME`` and SQLite metadata database; ``airflow db migrate``
runs at most once per process, and only for tests that need it (``dag.test()``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="lakever-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() in Airflow 3 runs DAGs found in the DAGs folder: the test DAGs live here.
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "dags")
os.environ["AIRFLOW__API__BASE_URL"] = "http://airflow.example:8080"
os.environ.setdefault("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")

MIGRATE_DEADLINE_S = 300


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate this process's SQLite metadata database once; return its path.

    ``dag.test()`` needs the metadata database in Airflow 3. The migration takes ~20 s
    on the CI machine (measured with ``time airflow db migrate``), so it runs once per
    worker process and only when a test asks for it.
    """
    db = _HOME / "airflow.db"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=MIGRATE_DEADLINE_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")
    print(f"airflow db migrate: {time.monotonic() - started:.1f}s")  # shown with -s / -rP
    _point_airflow_at(db)
    return db


def _point_airflow_at(db: Path) -> None:
    """Make this process use our settings even if another test module imported Airflow first.

    Airflow reads its configuration once, at import: when a module outside
    ``tests/provider`` imported it earlier in this worker, the environment above came too
    late, so the settings are applied to both configuration objects (core and task SDK)
    and the ORM is pointed at ``db``.
    """
    from airflow import settings
    from airflow.configuration import conf
    from airflow.sdk.configuration import conf as sdk_conf

    stale = False
    for name, value in os.environ.items():
        if not name.startswith("AIRFLOW__") or name.count("__") != 2:
            continue
        section, key = name.removeprefix("AIRFLOW__").lower().split("__")
        for parser in (conf, sdk_conf):
            if parser.get(section, key, fallback=None) != value:
                parser.set(section, key, value)
                stale = True
    if stale:
        settings.SQL_ALCHEMY_CONN = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        settings.DAGS_FOLDER = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
        settings.reconfigure_orm()
    assert db.exists()


def connection_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define an Airflow connection for one test through ``AIRFLOW_CONN_<ID>`` (JSON)."""

    def define(conn_id: str, **fields: object) -> str:
        monkeypatch.setenv(connection_env_name(conn_id), json.dumps(fields))
        return conn_id

    return define
