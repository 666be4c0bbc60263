"""Paged listings with prefix, ``after`` cursor and delimiter over sorted key streams.

The source is a function ``open(start, end)`` returning a sorted stream that seeks to
``start``. A delimited listing emits one common prefix per "folder" and re-opens the
stream just past it, so a folder of a million objects costs one seek, not a million
reads, and a page costs what the page costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from lakever_server.catalog.models import Page
from lakever_server.storage.kv.base import prefix_end

X = TypeVar("X")
R = TypeVar("R")

Opener = Callable[[bytes, bytes | None], Iterator[tuple[bytes, X]]]


def list_page(
    open_stream: Opener[X],
    *,
    prefix: bytes,
    delimiter: bytes,
    after: bytes,
    amount: int,
    item: Callable[[bytes, X], R],
    common_prefix: Callable[[bytes], R],
) -> Page[R]:
    """One page of at most ``amount`` results after ``after`` (exclusive)."""
    end = prefix_end(prefix) if prefix else None
    start: bytes | None = prefix
    if after:
        # An ``after`` that is a common prefix skips the whole folder.
        folder_cursor = bool(delimiter) and after.endswith(delimiter)
        past = prefix_end(after) if folder_cursor else after + b"\x00"
        start = max(prefix, past) if past is not None else None
    results: list[R] = []
    last = b""
    while start is not None and len(results) <= amount:
        folder: bytes | None = None
        for key, value in open_stream(start, end):
            if delimiter:
                at = key.find(delimiter, len(prefix))
                if at >= 0:
                    folder = key[: at + len(delimiter)]
                    results.append(common_prefix(folder))
                    last = folder
                    break
            results.append(item(key, value))
            last = key
            if len(results) > amount:
                break
        if folder is None:
            break
        start = prefix_end(folder)
    has_more = len(results) > amount
    if has_more:
        results = results[:amount]
        last = _cursor(results[-1], last)
    return Page(results=results, has_more=has_more, next_after=last.decode() if has_more else "")


def _cursor(result: object, fallback: bytes) -> bytes:
    path = getattr(result, "path", None)
    return path.encode() if isinstance(path, str) else fallback
