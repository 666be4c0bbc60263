"""A lakever connection and a plain HTTP connection with lakeFS-style extras both work."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_provider_lakever.hooks.connection import ServerSettings, normalize_endpoint


def test_lakever_connection_maps_form_fields() -> None:
    conn = Connection(
        conn_id="lake",
        conn_type="lakever",
        host="https://lake.example.com",
        login="AKIAEXAMPLE",
        password="s3cr3t",
        extra=json.dumps({"ui_base_url": "https://ui.lake.example.com/", "verify_tls": False}),
    )
    settings = ServerSettings.from_connection(conn)
    assert settings.endpoint == "https://lake.example.com/api/v1"
    assert settings.access_key_id == "AKIAEXAMPLE"
    assert settings.secret_access_key == "s3cr3t"
    assert settings.ui_base_url == "https://ui.lake.example.com"
    assert settings.verify_tls is False


def test_http_connection_with_lakefs_style_extras() -> None:
    conn = Connection(
        conn_id="lake_http",
        conn_type="http",
        host="lakefs.internal",
        schema="https",
        port=8443,
        extra=json.dumps({"access_key_id": "AKIAHTTP", "secret_access_key": "from-extras"}),
    )
    settings = ServerSettings.from_connection(conn)
    assert settings.endpoint == "https://lakefs.internal:8443/api/v1"
    assert settings.access_key_id == "AKIAHTTP"
    assert settings.secret_access_key == "from-extras"
    assert settings.ui_base_url == "https://lakefs.internal:8443"
    assert settings.verify_tls is True


def test_endpoint_extra_wins_over_host() -> None:
    conn = Connection(
        conn_id="c",
        conn_type="http",
        host="ignored",
        extra=json.dumps({"endpoint": "http://127.0.0.1:8000/api/v1/"}),
    )
    assert ServerSettings.from_connection(conn).endpoint == "http://127.0.0.1:8000/api/v1"


def test_retry_policy_comes_from_extras() -> None:
    conn = Connection(
        conn_id="c",
        conn_type="lakever",
        host="http://h:1",
        extra=json.dumps({"retry_attempts": "7", "retry_max_elapsed": 12}),
    )
    policy = ServerSettings.from_connection(conn).retry
    assert (policy.attempts, policy.max_elapsed) == (7, 12.0)


def test_a_connection_without_any_endpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="names no endpoint"):
        ServerSettings.from_connection(Connection(conn_id="empty", conn_type="lakever"))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("localhost:8000", "http://localhost:8000/api/v1"),
        ("http://localhost:8000/", "http://localhost:8000/api/v1"),
        ("https://lake.example.com/api/v1", "https://lake.example.com/api/v1"),
        ("https://proxy.example.com/lakefs/api/v1/", "https://proxy.example.com/lakefs/api/v1"),
    ],
)
def test_endpoint_normalization(typed: str, expected: str) -> None:
    assert normalize_endpoint(typed) == expected


def test_repr_never_shows_the_secret() -> None:
    conn = Connection(conn_id="c", conn_type="lakever", host="h", login="k", password="hunter2")
    assert "hunter2" not in repr(ServerSettings.from_connection(conn))
