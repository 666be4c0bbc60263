"""Per-request context shared with worker threads: the request id and a statement count.

Starlette and anyio copy the context into the threads that run route handlers, so a
metadata statement executed on behalf of a request is counted for that request.
"""

from __future__ import annotations

import itertools
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class RequestStats:
    """Counters one request accumulates while it runs."""

    statements: int = 0


request_id: ContextVar[str | None] = ContextVar("lakever_request_id", default=None)
request_stats: ContextVar[RequestStats | None] = ContextVar("lakever_request_stats", default=None)


def accept_request_id(header: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a fresh random id.

    A client-chosen id goes into logs verbatim, so only short tokens of safe characters
    are kept: no spaces, quotes or newlines that could forge a log line.
    """
    if header is not None and _ACCEPTED_ID.match(header):
        return header
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


# Fresh ids: a random per-process prefix and a counter, unique across replicas and
# restarts without a system call per request (``secrets.token_hex`` reads urandom each
# time). Ids are correlation tokens, not secrets.
_ID_PREFIX = secrets.token_hex(12)
_id_counter = itertools.count(1)


def count_statement() -> None:
    stats = request_stats.get()
    if stats is not None:
        stats.statements += 1
