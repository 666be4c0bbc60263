"""Exit codes and one-line errors of the ``lakever`` command line.

Scripts branch on the exit code, so every failure maps to exactly one code here, and
every API failure is turned into a :class:`CliError` in :func:`from_api_exception`,
the one place where HTTP statuses become exit codes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import urllib3.exceptions

if TYPE_CHECKING:
    from lakefs_sdk.exceptions import ApiException


class ExitCode(IntEnum):
    """Process exit codes; documented in ``docs/cli.md``."""

    OK = 0
    ERROR = 1  # anything else: server error, network failure, local I/O
    USAGE = 2  # bad arguments, malformed URI, missing configuration (click's own code)
    NOT_FOUND = 3  # HTTP 404: repository, branch, ref or object does not exist
    CONFLICT = 4  # HTTP 409/412: already exists, merge conflict, precondition failed
    AUTH = 5  # HTTP 401/403: bad credentials, not allowed, protected branch
    INVALID = 6  # HTTP 400/416/422: the server rejected the request (e.g. nothing to commit)


_STATUS_CODES: dict[int, ExitCode] = {
    400: ExitCode.INVALID,
    401: ExitCode.AUTH,
    403: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    412: ExitCode.CONFLICT,
    416: ExitCode.INVALID,
    422: ExitCode.INVALID,
}


def exit_code_for_status(status: int | None) -> ExitCode:
    """The exit code for an HTTP status; any unmapped status is a generic error."""
    if status is None:
        return ExitCode.ERROR
    return _STATUS_CODES.get(status, ExitCode.ERROR)


@dataclass(frozen=True)
class ConflictEntry:
    """One path a merge could not reconcile."""

    path: str
    reason: str = ""


class CliError(Exception):
    """A failure reported to the user on one line, with the process exit code."""

    def __init__(
        self,
        message: str,
        exit_code: ExitCode = ExitCode.ERROR,
        *,
        status: int | None = None,
        conflicts: Sequence[ConflictEntry] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status
        self.conflicts = list(conflicts)

    def with_conflicts(self, conflicts: Sequence[ConflictEntry]) -> CliError:
        """A copy of this error listing ``conflicts``."""
        return CliError(self.message, self.exit_code, status=self.status, conflicts=conflicts)

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object (``--output json``)."""
        body: dict[str, Any] = {"message": self.message, "exit_code": int(self.exit_code)}
        if self.status is not None:
            body["status"] = self.status
        if self.conflicts:
            body["conflicts"] = [{"path": c.path, "reason": c.reason} for c in self.conflicts]
        return body


class UsageError(CliError):
    """The command line itself is wrong (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


def _decode_body(body: object) -> Any:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def conflicts_from_body(body: object) -> list[ConflictEntry]:
    """Conflicting paths listed in a 409 body, whatever the field is called.

    lakeFS sends only ``{"message": ...}``; lakever adds the full list. Accept any list
    of strings or of objects with a ``path`` field, so both servers work.
    """
    decoded = _decode_body(body)
    if not isinstance(decoded, dict):
        return []
    found: list[ConflictEntry] = []
    for key, value in decoded.items():
        if key == "message" or not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, str):
                found.append(ConflictEntry(item))
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                reason = item.get("reason") or item.get("type") or ""
                found.append(ConflictEntry(item["path"], str(reason)))
    return found


def server_message(exc: ApiException) -> str:
    """The server's own message from an error response, on one line."""
    decoded = _decode_body(exc.body)
    if isinstance(decoded, dict) and decoded.get("message"):
        return _one_line(str(decoded["message"]))
    if isinstance(decoded, str) and decoded:
        return _one_line(decoded)[:300]
    return _one_line(str(exc.reason or "request failed"))


def from_api_exception(exc: ApiException, *, context: str = "") -> CliError:
    """Turn an API error response into a :class:`CliError` with the right exit code."""
    status = int(exc.status) if exc.status is not None else None
    message = server_message(exc)
    if context:
        message = f"{context}: {message}"
    if status is not None:
        message = f"{message} (HTTP {status})"
    conflicts = conflicts_from_body(exc.body) if status == 409 else []
    return CliError(message, exit_code_for_status(status), status=status, conflicts=conflicts)


def from_exception(exc: BaseException) -> CliError:
    """Any failure while talking to the server, as a :class:`CliError`."""
    if isinstance(exc, CliError):
        return exc
    # The SDK is loaded lazily; if it is not loaded, nothing can have raised its errors.
    sdk_errors = sys.modules.get("lakefs_sdk.exceptions")
    if sdk_errors is not None and isinstance(exc, sdk_errors.ApiException):
        return from_api_exception(exc)
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return CliError(f"cannot reach the endpoint: {_one_line(str(exc.reason))}")
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return CliError(f"cannot reach the endpoint: {_one_line(str(exc))}")
    is_sdk_error = sdk_errors is not None and isinstance(exc, sdk_errors.OpenApiException)
    if isinstance(exc, ValueError) and not is_sdk_error:
        # The SDK's models validate what we send: a bad name or namespace is ours.
        return CliError(f"invalid value: {_one_line(str(exc))}", ExitCode.USAGE)
    if is_sdk_error:
        return CliError(f"unexpected response or value: {_one_line(str(exc))}")
    if isinstance(exc, OSError):
        return CliError(_one_line(str(exc)))
    raise exc


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by a mask."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask_secret(secret))
    return text


def mask_secret(secret: str | None) -> str:
    """A secret shown only as its length class and last four characters."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "*" * 8
    return "*" * 12 + secret[-4:]
