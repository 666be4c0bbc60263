"""API statuses become distinct exit codes and one-line errors with the server's message."""

from __future__ import annotations

import json

import pytest
from lakefs_sdk.exceptions import ApiException

from lakever_server.cli.errors import (
    CliError,
    ConflictEntry,
    ExitCode,
    conflicts_from_body,
    exit_code_for_status,
    from_api_exception,
    from_exception,
    mask_secret,
    redact,
)


def api_error(status: int, body: object, reason: str = "Reason") -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = json.dumps(body) if not isinstance(body, str) else body
    return error


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(400, ExitCode.INVALID, id="400 bad request is invalid"),
        pytest.param(401, ExitCode.AUTH, id="401 is auth"),
        pytest.param(403, ExitCode.AUTH, id="403 protected branch is auth"),
        pytest.param(404, ExitCode.NOT_FOUND, id="404 is not found"),
        pytest.param(409, ExitCode.CONFLICT, id="409 is conflict"),
        pytest.param(412, ExitCode.CONFLICT, id="412 precondition is conflict"),
        pytest.param(416, ExitCode.INVALID, id="416 range is invalid"),
        pytest.param(429, ExitCode.ERROR, id="429 busy is a generic error"),
        pytest.param(500, ExitCode.ERROR, id="500 is a generic error"),
    ],
)
def test_each_status_maps_to_its_exit_code(status: int, code: ExitCode) -> None:
    assert exit_code_for_status(status) is code
    assert from_api_exception(api_error(status, {"message": "m"})).exit_code is code


def test_exit_codes_scripts_branch_on_are_distinct() -> None:
    codes = [ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_FOUND, ExitCode.CONFLICT, ExitCode.AUTH]
    assert len({int(c) for c in codes}) == len(codes)
    assert ExitCode.USAGE == 2  # the code click and shells use for usage errors


def test_error_carries_the_servers_message_on_one_line() -> None:
    error = from_api_exception(
        api_error(404, {"message": "branch not found:\n  feature-x"}), context="show"
    )
    assert error.message == "show: branch not found: feature-x (HTTP 404)"
    assert "\n" not in error.message


def test_error_without_json_body_uses_the_text_or_reason() -> None:
    assert "gateway down" in from_api_exception(api_error(502, "gateway down")).message
    assert "Bad Gateway" in from_api_exception(api_error(502, "", reason="Bad Gateway")).message


def test_conflict_body_paths_are_read_whatever_their_field() -> None:
    body = {
        "message": "conflict found",
        "conflicts": [{"path": "a.csv", "reason": "changed on both sides"}, {"path": "b.csv"}],
    }
    assert conflicts_from_body(json.dumps(body)) == [
        ConflictEntry("a.csv", "changed on both sides"),
        ConflictEntry("b.csv", ""),
    ]
    assert conflicts_from_body(json.dumps({"message": "x", "paths": ["p1", "p2"]})) == [
        ConflictEntry("p1"),
        ConflictEntry("p2"),
    ]
    assert conflicts_from_body(b'{"message": "conflict found"}') == []
    assert conflicts_from_body("not json") == []


def test_409_errors_keep_their_conflicts() -> None:
    error = from_api_exception(api_error(409, {"message": "conflict", "conflicts": ["x"]}))
    assert [c.path for c in error.conflicts] == ["x"]
    assert error.as_dict()["conflicts"] == [{"path": "x", "reason": ""}]


def test_unreachable_endpoint_is_a_generic_error() -> None:
    import urllib3

    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    error = from_exception(urllib3.exceptions.MaxRetryError(None, "/api/v1", reason))  # type: ignore[arg-type]
    assert error.exit_code is ExitCode.ERROR
    assert error.message.startswith("cannot reach the endpoint")


def test_programming_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        from_exception(KeyError("bug"))
    assert from_exception(CliError("x", ExitCode.AUTH)).exit_code is ExitCode.AUTH


def test_secrets_are_masked_wherever_they_appear() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    text = redact(f"auth failed for {secret} twice: {secret}", [secret])
    assert secret not in text
    assert text.count(mask_secret(secret)) == 2
    assert mask_secret("short") == "********"
    assert mask_secret("") == ""
