"""The secret access key never shows up in logs once the hook has read the connection."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from airflow.sdk._shared.secrets_masker import redact

from airflow_provider_lakever.hooks.lakever import LakeverHook

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_the_secret_is_masked_in_log_records(
    set_connection: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    conn_id = set_connection(
        "lakever_masking",
        conn_type="lakever",
        host="http://127.0.0.1:1",
        login="AKIAEXAMPLE",
        password=SECRET,
    )
    hook = LakeverHook(conn_id)
    assert hook.settings.secret_access_key == SECRET
    assert SECRET not in str(redact(f"signing with {SECRET}"))
    assert "***" in str(redact(f"signing with {SECRET}"))


def test_a_secret_given_in_http_extras_is_masked_too(set_connection: Callable[..., str]) -> None:
    secret = "extras-secret-0123456789abcdef"
    conn_id = set_connection(
        "lakever_masking_http",
        conn_type="http",
        host="127.0.0.1",
        extra={"access_key_id": "AKIAHTTP", "secret_access_key": secret},
    )
    assert LakeverHook(conn_id).settings.secret_access_key == secret
    assert secret not in str(redact({"header": f"Basic {secret}"}))


def test_the_hooks_log_lines_do_not_carry_the_secret(
    set_connection: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    conn_id = set_connection(
        "lakever_masking_log", conn_type="lakever", host="http://127.0.0.1:1", password=SECRET
    )
    hook = LakeverHook(conn_id)
    with caplog.at_level(logging.DEBUG):
        ok, message = hook.test_connection()
    assert not ok
    assert SECRET not in message
    assert SECRET not in caplog.text
