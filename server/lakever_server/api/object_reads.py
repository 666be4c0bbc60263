"""Reads of one object (get, head, stat), shared by the routes and the fast path.

These are the hot path of readers (fsspec, pandas, Spark probing). ``run_read`` calls
them on the event loop when the stores are embedded (point reads of ~100 us, cheaper
than the hop to a worker thread) and in the thread pool otherwise (PostgreSQL or S3
reads wait on the network). Bodies larger than ``SMALL_OBJECT`` always stream from the
thread pool.

A read answers with an ``ObjectReply``: status, raw headers and body. The routes turn it
into a Starlette response; the fast path sends it as ASGI messages. Both send the very
same headers, built once here.
"""

from __future__ import annotations

import email.utils
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lakever_server.api import convert
from lakever_server.api.deps import check_path
from lakever_server.api.streaming import parse_range
from lakever_server.catalog.interface import CatalogService
from lakever_server.catalog.models import Entry
from lakever_server.services import Services
from lakever_server.zerocopy.response import BlobResponse

P = ParamSpec("P")
T = TypeVar("T")
Headers = list[tuple[bytes, bytes]]

SMALL_OBJECT = 256 * 1024
"""Bodies up to this size are read at once rather than streamed."""


@dataclass(slots=True)
class ObjectReply:
    """One read's answer; ``stream`` (set for large bodies) replaces ``body``."""

    status: int
    headers: Headers
    body: bytes = b""
    stream: Iterator[bytes] | None = None

    def response(self) -> Response:
        """The reply as a Starlette response, with exactly these headers."""
        if self.stream is not None:
            response: Response = BlobResponse(self.stream, self.status)
        else:
            response = Response(self.body, self.status)
        response.raw_headers = list(self.headers)
        return response

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the reply on an ASGI connection (streams as a ``BlobResponse``)."""
        if self.stream is not None:
            await self.response()(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def run_read(
    services: Services, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``read(*args, **kwargs)`` inline on embedded stores, in a worker thread otherwise."""
    if services.embedded_stores:
        return read(*args, **kwargs)
    return await anyio.to_thread.run_sync(lambda: read(*args, **kwargs))


@functools.lru_cache(maxsize=4096)
def _http_date(mtime: int) -> bytes:
    # Readers probe the same objects over and over; formatting a date costs ~5 us.
    return email.utils.formatdate(mtime, usegmt=True).encode("latin-1")


def object_headers(entry: Entry) -> Headers:
    # Content-Type set verbatim: a media_type argument would append "; charset=utf-8".
    return [
        (b"content-type", entry.content_type.encode("latin-1")),
        (b"etag", convert.etag(entry.checksum).encode("latin-1")),
        (b"last-modified", _http_date(entry.mtime)),
        (b"accept-ranges", b"bytes"),
    ]


def not_modified(if_none_match: str | None, entry: Entry) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}
    return "*" in tags or entry.checksum in tags


def _span(entry: Entry, range_header: str | None, headers: Headers) -> tuple[int, int, int]:
    """Status, start and end of the bytes a read answers (206 for a ``Range``), with
    ``Content-Range`` and ``Content-Length`` appended to ``headers``."""
    if range_header is None:
        status, start, end = 200, 0, entry.size_bytes
    else:
        start, end = parse_range(range_header, entry.size_bytes)
        status = 206
        headers.append((b"content-range", f"bytes {start}-{end - 1}/{entry.size_bytes}".encode()))
    headers.append((b"content-length", b"%d" % (end - start)))
    return status, start, end


def get_reply(
    catalog: CatalogService,
    repository: str,
    ref: str,
    path: str,
    range_header: str | None,
    if_none_match: str | None,
) -> ObjectReply:
    """The object's bytes: 200, 206 for a ``Range``, 304 when ``If-None-Match`` holds."""
    entry = catalog.get_entry(repository, ref, check_path(path))
    headers = object_headers(entry)
    if not_modified(if_none_match, entry):
        return ObjectReply(304, headers)
    status, start, end = _span(entry, range_header, headers)
    if end - start <= SMALL_OBJECT:
        content = b"".join(catalog.open_entry(entry, start=start, end=end))
        return ObjectReply(status, headers, content)
    return ObjectReply(status, headers, stream=catalog.open_entry(entry, start=start, end=end))


def head_reply(
    catalog: CatalogService, repository: str, ref: str, path: str, range_header: str | None
) -> ObjectReply:
    entry = catalog.get_entry(repository, ref, check_path(path))
    headers = object_headers(entry)
    status, _, _ = _span(entry, range_header, headers)
    return ObjectReply(status, headers)


def get_response(
    catalog: CatalogService,
    repository: str,
    ref: str,
    path: str,
    range_header: str | None,
    if_none_match: str | None,
) -> Response:
    return get_reply(catalog, repository, ref, path, range_header, if_none_match).response()


def head_response(
    catalog: CatalogService, repository: str, ref: str, path: str, range_header: str | None
) -> Response:
    return head_reply(catalog, repository, ref, path, range_header).response()


def stat_body(
    catalog: CatalogService, repository: str, ref: str, path: str, *, user_metadata: bool
) -> dict[str, Any]:
    entry = catalog.get_entry(repository, ref, check_path(path))
    return convert.object_stats(entry, user_metadata=user_metadata)


def stat_reply(
    catalog: CatalogService, repository: str, ref: str, path: str, *, user_metadata: bool
) -> ObjectReply:
    """``stat_body`` encoded as FastAPI encodes a route's dict (``JSONResponse``)."""
    body = json.dumps(
        stat_body(catalog, repository, ref, path, user_metadata=user_metadata),
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    ).encode()
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    return ObjectReply(200, headers, body)
