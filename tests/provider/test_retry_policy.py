"""The hook retries transient failures (5xx, 429, connection resets) and never a 4xx.

Every test talks to a real HTTP server on a free port that answers from a script.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_lakever.exceptions import LakeverError
from airflow_provider_lakever.hooks.connection import ServerSettings
from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.hooks.retry import RetryPolicy, is_transient
from tests.provider.scripted_http import RESET, Reply, Script, scripted_server

FAST = RetryPolicy(attempts=6, max_elapsed=30.0, initial_backoff=0.01, max_backoff=0.05)
BRANCH = {"id": "main", "commit_id": "c0ffee"}
ERROR = {"message": "nope"}


def _hook(url: str, policy: RetryPolicy = FAST) -> LakeverHook:
    settings = ServerSettings(
        endpoint=f"{url}/api/v1",
        access_key_id="AKIATEST",
        secret_access_key="test-secret",
        ui_base_url=url,
        retry=policy,
    )
    return LakeverHook("scripted", settings=settings)


def test_503_429_and_a_connection_reset_are_retried_until_success() -> None:
    script = Script([Reply(503, ERROR), Reply(429, ERROR), RESET, Reply(200, BRANCH)])
    with scripted_server(script) as url:
        assert _hook(url).get_branch_head("lake", "main") == "c0ffee"
    assert script.requests == ["GET /api/v1/repositories/lake/branches/main"] * 4


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param(400, "raises", id="400 bad request"),
        pytest.param(401, "raises", id="401 unauthorized"),
        pytest.param(403, "raises", id="403 forbidden"),
        pytest.param(404, "missing", id="404 not found"),
        pytest.param(409, "raises", id="409 conflict"),
        pytest.param(412, "raises", id="412 precondition failed"),
    ],
)
def test_a_semantic_4xx_is_never_retried(status: int, outcome: str) -> None:
    script = Script([Reply(status, ERROR)], default=Reply(200, BRANCH))
    with scripted_server(script) as url:
        hook = _hook(url)
        if outcome == "missing":
            assert hook.get_branch_head("lake", "main") is None
        else:
            with pytest.raises(LakeverError, match="nope"):
                hook.resolve_commit("lake", "main")
    assert len(script.requests) == 1


def test_retries_stop_after_the_attempt_bound() -> None:
    policy = RetryPolicy(attempts=3, max_elapsed=30.0, initial_backoff=0.01, max_backoff=0.02)
    script = Script([], default=Reply(503, {"message": "overloaded"}))
    with scripted_server(script) as url, pytest.raises(LakeverError, match="overloaded"):
        _hook(url, policy).resolve_commit("lake", "main")
    assert len(script.requests) == 3


def test_retries_stop_after_the_time_bound() -> None:
    policy = RetryPolicy(attempts=1000, max_elapsed=0.5, initial_backoff=0.05, max_backoff=0.1)
    script = Script([], default=Reply(502, ERROR))
    started = time.monotonic()
    with scripted_server(script) as url, pytest.raises(LakeverError):
        _hook(url, policy).resolve_commit("lake", "main")
    elapsed = time.monotonic() - started
    assert elapsed < 5.0
    assert 2 <= len(script.requests) < 1000


def test_a_refused_connection_is_transient_and_bounded() -> None:
    with scripted_server(Script([])) as url:
        pass  # the port is free again: connecting is refused
    policy = RetryPolicy(attempts=3, max_elapsed=10.0, initial_backoff=0.01, max_backoff=0.02)
    with pytest.raises(LakeverError, match="server unreachable") as raised:
        _hook(url, policy).resolve_commit("lake", "main")
    assert raised.value.__cause__ is not None
    assert is_transient(raised.value.__cause__)


def test_a_lost_commit_response_is_recovered_without_a_second_commit() -> None:
    """The commit reached the server but its answer was lost: the retry finds it."""
    key = "k-123"
    commit = {
        "id": "abc",
        "parents": ["p"],
        "committer": "airflow",
        "message": "m",
        "creation_date": 1,
        "meta_range_id": "",
        "metadata": {"lakever.idempotency_key": key},
    }
    log = {
        "pagination": {"has_more": False, "next_offset": "", "results": 1, "max_per_page": 50},
        "results": [commit],
    }
    script = Script([RESET, Reply(200, log)])
    with scripted_server(script) as url:
        found = _hook(url).commit(
            "lake", "b", message="m", metadata={"lakever.idempotency_key": key}
        )
    assert found.id == "abc"
    posts = [r for r in script.requests if r.startswith("POST")]
    assert posts == ["POST /api/v1/repositories/lake/branches/b/commits"]
