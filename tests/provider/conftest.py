"""Fixtures of the provider tests: Airflow connections.

The isolated Airflow home and its metadata DB (``airflow_db``) come from
``tests.support.airflow_home``, registered for the whole suite by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


def connection_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define an Airflow connection for one test through ``AIRFLOW_CONN_<ID>`` (JSON)."""

    def define(conn_id: str, **fields: object) -> str:
        monkeypatch.setenv(connection_env_name(conn_id), json.dumps(fields))
        return conn_id

    return define
