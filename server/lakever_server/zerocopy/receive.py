"""Taking a large request body as a reader, when the server offers
``lakever.http.request.readinto`` (``protocol``), for the worker thread that stores it.

The reader is a ``storage.block.base.BodyReader``: the block store reads it into its own
aligned write buffers. Its failures are the application's: a client that leaves or
stops sending is ``InvalidValue("client disconnected during upload")``, and a body over
the configured maximum is refused before a byte of it is read, as the streamed path
(``api.streaming.feed_thread``) does. Where the scope does not offer the extension,
``open_body_reader`` returns ``None`` and the body streams through ``receive``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from starlette.types import Scope

from lakever_server.errors import InvalidValue
from lakever_server.zerocopy import ZEROCOPY_RECEIVE, BodyIncomplete

T = TypeVar("T")


class _ServerReader(Protocol):
    length: int

    def readinto(self, buffer: memoryview) -> int: ...

    def close(self) -> None: ...


class RequestBodyReader:
    """The request body, read into the caller's buffers (``readinto``, blocking)."""

    def __init__(self, reader: _ServerReader) -> None:
        self._reader = reader
        self.length = reader.length

    def readinto(self, buffer: memoryview) -> int:
        try:
            return self._reader.readinto(buffer)
        except BodyIncomplete as error:
            raise InvalidValue("client disconnected during upload") from error

    def close(self) -> None:
        self._reader.close()


def open_body_reader(scope: Scope, *, max_bytes: int | None = None) -> RequestBodyReader | None:
    """The body's reader, or ``None`` where the server does not offer one (call on the
    event loop, before anything received the body). ``InvalidValue`` for a body over
    ``max_bytes``."""
    offer: Mapping[str, Any] | None = (scope.get("extensions") or {}).get(ZEROCOPY_RECEIVE)
    if offer is None:
        return None
    if max_bytes is not None and offer["length"] > max_bytes:
        raise InvalidValue("object larger than the configured maximum", field="content")
    return RequestBodyReader(offer["open"]())


async def read_in_thread(reader: RequestBodyReader, fn: Callable[[RequestBodyReader], T]) -> T:
    """``fn(reader)`` in a worker thread (of the pool every blocking call uses), the
    reader closed after it in the same thread."""

    def run() -> T:
        try:
            return fn(reader)
        finally:
            reader.close()

    return await anyio.to_thread.run_sync(run)
