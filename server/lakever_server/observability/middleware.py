"""The ASGI wrapper that observes every request of the server.

It sits outside the protocol dispatcher, so it sees REST, S3 gateway, WebHDFS and UI
requests alike: it assigns the request id (the client's ``X-Request-Id`` or a fresh
one) and echoes it, times the request under its operation name, counts gateway bytes
and metadata statements, and logs one JSON access line without query string or
headers (they may carry signatures and credentials).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakever_server.app import signed_for_s3
from lakever_server.observability.context import (
    REQUEST_ID_HEADER,
    RequestStats,
    accept_request_id,
    request_id,
    request_stats,
)
from lakever_server.observability.metrics import Metrics
from lakever_server.zerocopy import ZEROCOPY_SEND

log = logging.getLogger("lakever_server.access")

_OBJECTS = "/api/v1/repositories/{repository}/refs/{ref}/objects"
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_FAST_PATH = re.compile(r"^/api/v1/repositories/[^/]+/refs/[^/]+/objects(/stat)?$")


@dataclass
class _Exchange:
    """What one request did, filled in while it runs."""

    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


def protocol_by_path(path: str) -> str:
    """``webhdfs``, ``ui`` or ``api``: the front end serving an unsigned request (an
    S3-signed one is ``s3``, whatever its path)."""
    if path.startswith("/webhdfs/"):
        return "webhdfs"
    if path.startswith("/api/"):
        return "api"
    return "ui"


def operation_of(scope: Scope, protocol: str) -> str:
    """The route template FastAPI matched, else the front end's name.

    Raw paths would make one time series per object; S3 and WebHDFS requests are named
    by protocol only (their operation is in the method and query, not the path).
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if protocol == "api":
        # The object read fast path answers these before FastAPI routes anything.
        fast = _FAST_PATH.match(scope.get("path", ""))
        return f"{_OBJECTS}{fast.group(1) or ''}" if fast else "unmatched"
    return protocol


class ObservedApp:
    """Wraps ``app``: request id, metrics, access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children, looked up once per label set: ``labels()`` validates and
        # locks on every call, a measurable share of a 4 KiB read. Label sets are bounded
        # (route templates x methods x statuses), so these dicts are too.
        self._durations: dict[tuple[str, str, str], Any] = {}
        self._statements: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id, authorization = None, None
        for name, value in scope.get("headers", ()):  # one pass, no copy
            if name == _REQUEST_ID and raw_id is None:
                raw_id = value
            elif name == b"authorization" and authorization is None:
                authorization = value
        rid = accept_request_id(raw_id.decode("latin-1") if raw_id else None)
        id_token = request_id.set(rid)
        stats = RequestStats()
        stats_token = request_stats.set(stats)
        exchange = _Exchange()
        if signed_for_s3(authorization, scope.get("query_string", b"")):
            protocol = "s3"
        else:
            protocol = protocol_by_path(scope.get("path", ""))
        started = time.perf_counter()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.bytes_in += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                extra = [(REQUEST_ID_HEADER.encode(), rid.encode())]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            elif message["type"] == "http.response.body":
                exchange.bytes_out += len(message.get("body", b""))
            elif message["type"] == ZEROCOPY_SEND:
                # A file range the server sends itself (lakever's responses always say
                # how many bytes).
                exchange.bytes_out += message.get("count") or 0
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        except Exception:
            exchange.status = exchange.status or 500
            raise
        finally:
            self._record(scope, protocol, exchange, stats, time.perf_counter() - started)
            request_stats.reset(stats_token)
            request_id.reset(id_token)

    def _record(
        self,
        scope: Scope,
        protocol: str,
        exchange: _Exchange,
        stats: RequestStats,
        elapsed: float,
    ) -> None:
        operation = operation_of(scope, protocol)
        method: str = scope["method"]
        status = str(exchange.status or 499)  # 499: the client went away first
        duration = self._durations.get((operation, method, status))
        if duration is None:
            duration = self.metrics.request_duration.labels(operation, method, status)
            self._durations[operation, method, status] = duration
        duration.observe(elapsed)
        statements = self._statements.get((operation, method))
        if statements is None:
            statements = self.metrics.statements_per_request.labels(operation, method)
            self._statements[operation, method] = statements
        statements.observe(stats.statements)
        if protocol in ("s3", "webhdfs"):
            self.metrics.gateway_bytes.labels(protocol, "in").inc(exchange.bytes_in)
            self.metrics.gateway_bytes.labels(protocol, "out").inc(exchange.bytes_out)
        # Every request at debug (as lakeFS does); failures of the server always.
        level = logging.WARNING if exchange.status >= 500 else logging.DEBUG
        log.log(
            level,
            "%s %s %s",
            method,
            operation,
            status,
            extra={
                "method": method,
                "operation": operation,
                "path": scope.get("path", ""),
                "status": int(status),
                "duration_ms": round(elapsed * 1000, 3),
                "bytes_in": exchange.bytes_in,
                "bytes_out": exchange.bytes_out,
                "metadata_statements": stats.statements,
            },
        )


def observe(app: ASGIApp, metrics: Metrics) -> ObservedApp:
    return ObservedApp(app, metrics)
