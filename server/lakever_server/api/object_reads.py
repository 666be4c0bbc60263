"""Reads of one object (get, head, stat), shared by the routes and the fast path.

These are the hot path of readers (fsspec, pandas, Spark probing). ``run_read`` calls
them on the event loop when the stores are embedded (point reads of ~100 us, cheaper
than the hop to a worker thread) and in the thread pool otherwise (PostgreSQL or S3
reads wait on the network). Bodies larger than ``SMALL_OBJECT`` always stream from the
thread pool.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from starlette.responses import Response, StreamingResponse

from lakever_server.api import convert
from lakever_server.api.deps import check_path
from lakever_server.api.streaming import parse_range
from lakever_server.catalog.interface import CatalogService
from lakever_server.catalog.models import Entry
from lakever_server.services import Services

P = ParamSpec("P")
T = TypeVar("T")

SMALL_OBJECT = 256 * 1024
"""Bodies up to this size are read at once rather than streamed."""


async def run_read(
    services: Services, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``read(*args, **kwargs)`` inline on embedded stores, in a worker thread otherwise."""
    if services.embedded_stores:
        return read(*args, **kwargs)
    return await anyio.to_thread.run_sync(lambda: read(*args, **kwargs))


def object_headers(entry: Entry) -> dict[str, str]:
    # Content-Type set verbatim: a media_type argument would append "; charset=utf-8".
    return {
        "Content-Type": entry.content_type,
        "ETag": convert.etag(entry.checksum),
        "Last-Modified": email.utils.formatdate(entry.mtime, usegmt=True),
        "Accept-Ranges": "bytes",
    }


def not_modified(if_none_match: str | None, entry: Entry) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}
    return "*" in tags or entry.checksum in tags


def get_response(
    catalog: CatalogService,
    repository: str,
    ref: str,
    path: str,
    range_header: str | None,
    if_none_match: str | None,
) -> Response:
    """The object's bytes: 200, 206 for a ``Range``, 304 when ``If-None-Match`` holds."""
    entry = catalog.get_entry(repository, ref, check_path(path))
    headers = object_headers(entry)
    if not_modified(if_none_match, entry):
        return Response(status_code=304, headers=headers)
    status, start, end = 200, 0, entry.size_bytes
    if range_header is not None:
        start, end = parse_range(range_header, entry.size_bytes)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size_bytes}"
    headers["Content-Length"] = str(end - start)
    if end - start <= SMALL_OBJECT:
        content = b"".join(catalog.open_entry(entry, start=start, end=end))
        return Response(content, status, headers)
    stream = catalog.open_entry(entry, start=start, end=end)
    return StreamingResponse(stream, status, headers)


def head_response(
    catalog: CatalogService, repository: str, ref: str, path: str, range_header: str | None
) -> Response:
    entry = catalog.get_entry(repository, ref, check_path(path))
    headers = object_headers(entry)
    length, status = entry.size_bytes, 200
    if range_header is not None:
        start, end = parse_range(range_header, entry.size_bytes)
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size_bytes}"
        length, status = end - start, 206
    headers["Content-Length"] = str(length)
    return Response(status_code=status, headers=headers)


def stat_body(
    catalog: CatalogService, repository: str, ref: str, path: str, *, user_metadata: bool
) -> dict[str, Any]:
    entry = catalog.get_entry(repository, ref, check_path(path))
    return convert.object_stats(entry, user_metadata=user_metadata)
