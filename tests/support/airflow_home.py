"""An isolated Airflow for the tests: its own home and metadata DB per process.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``), so the
provider tests and the example DAG tests share one ``airflow_db`` fixture: one migration
per process however many of their modules a worker runs.

Airflow reads its configuration when first imported, so the environment is set here, when
pytest loads this plugin, before any test module imports ``airflow``. Each process (each
xdist worker) gets its own ``AIRFLOW_HOME`` and SQLite metadata database; ``airflow db
migrate`` runs at most once per process, and only for tests that need it (``dag.test()``,
``airflow dags test``). Tests that never import Airflow are not affected by the variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="lakever-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() in Airflow 3 runs DAGs found in the DAGs folder: the provider's test DAGs.
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parents[1] / "provider" / "dags")
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
    """Make this process use our settings even if a test module imported Airflow first.

    Airflow reads its configuration once, at import: when something imported it before
    this plugin set the environment, the environment came too late, so the settings are
    applied to both configuration objects (core and task SDK) and the ORM is pointed at
    ``db``.
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
