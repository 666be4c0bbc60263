"""Structured logs: one JSON object per line, with the request id, and no secrets.

Every record passes through ``redact`` before it is written: values after
``Authorization``, ``secret_access_key``, ``password``, ``X-Amz-Signature`` and the like
are replaced, whichever library wrote the line (uvicorn's access log prints query
strings, which carry presigned-URL signatures).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, Literal

from lakever_server.observability.context import request_id

LogFormat = Literal["json", "text"]
REDACTED = "***"

_SECRET_NAMES = (
    r"authorization|secret[_-]?access[_-]?key|secretaccesskey|password|token|secret|"
    r"x-amz-signature|signature|x-amz-security-token|cookie|internal_auth_session"
)
# name=value, name: value, "name": "value" (JSON), in any case.
_SECRET_PAIR = re.compile(
    rf"""(?ix)
    (["']?(?:{_SECRET_NAMES})["']?\s*[=:]\s*)   # the name and its separator
    (?:"[^"]*"|'[^']*'|(?:Basic|Bearer|AWS4-HMAC-SHA256|AWS)\s+[^\s,;&"']+(?:,\s*[^\s,;&"']+)*|[^\s,;&"'}}]+)
    """
)
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"color_message"}


def redact(text: str) -> str:
    """``text`` with every value of a secret-looking name replaced by ``***``."""
    return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class RedactingTextFormatter(logging.Formatter):
    """The plain text format, also redacted, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        line = super().format(record)
        return redact(f"{line} request_id={rid}" if rid else line)


def configure_logging(level: str, log_format: LogFormat = "json") -> None:
    """Send every logger (uvicorn's too) to stderr in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            RedactingTextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would bypass the formatter above.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
