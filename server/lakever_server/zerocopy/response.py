"""``BlobResponse``: a stored blob's bytes as an HTTP response body, sent zero-copy when
the server can.

A read from the local block store is an open file range (``FileChunks``: an iterator of
chunks that also exposes ``fileno()``, ``offset``, ``remaining`` and ``close()``). When
the request's scope offers ``http.response.zerocopysend`` (``zerocopy.protocol``), the
response hands the server that range in one message and the kernel sends it; the file
is closed when the message was sent (or the client left). Otherwise (another server, a
TLS connection, a blob from S3 or memory, which are plain iterators) the chunks stream
as before: each next one read in a worker thread while the current one is sent
(``read_ahead``).

The caller sets the headers, ``Content-Length`` included: the server sends exactly the
range it was given, and ranged reads (206, ``Content-Range``) and conditional headers
are decided before the response is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from lakever_server.zerocopy import ZEROCOPY_SEND


@runtime_checkable
class FileRange(Protocol):
    """A blob read that is an open file: the bytes ``[offset, offset + remaining)``
    (``remaining`` ``None``: to the end of the file)."""

    offset: int
    remaining: int | None

    def fileno(self) -> int: ...

    def close(self) -> None: ...


async def read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of a blocking iterator (a blob being read), each next one read in a
    worker thread while the current one is sent.

    Streaming a blocking iterator otherwise alternates: read a chunk, send it and wait
    for the socket to drain, read the next; the disk and the network each wait half the
    time.
    """
    loop = asyncio.get_running_loop()
    iterator = iter(chunks)

    def step() -> bytes | None:
        return next(iterator, None)

    # In the thread pool (and under the limit) that serves every other blocking call.
    pending = loop.create_task(anyio.to_thread.run_sync(step))
    try:
        while (chunk := await pending) is not None:
            pending = loop.create_task(anyio.to_thread.run_sync(step))
            yield chunk
    finally:
        # The client went away (or the body ended): let the read in flight finish before
        # closing the iterator, which a running thread would refuse.
        await asyncio.wait({pending})
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def can_send_zero_copy(scope: Scope, chunks: Iterator[bytes]) -> bool:
    return (
        scope.get("type") == "http"
        and ZEROCOPY_SEND in (scope.get("extensions") or {})
        and isinstance(chunks, FileRange)
    )


class BlobResponse(StreamingResponse):
    """The chunks of a blob read (``catalog.open_entry``) as the response body."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        # Not StreamingResponse.__init__: the body iterator is chosen when sending.
        self.chunks = chunks
        self.status_code = status_code
        self.media_type = self.media_type if media_type is None else media_type
        self.background = background
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self.chunks
        if not isinstance(chunks, FileRange) or not can_send_zero_copy(scope, chunks):
            self.body_iterator = read_ahead(chunks)
            await super().__call__(scope, receive, send)
            return
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            await send({**start, "headers": self.raw_headers})
            message: dict[str, Any] = {
                "type": ZEROCOPY_SEND,
                "file": chunks,
                "offset": chunks.offset,
                "more_body": False,
            }
            if chunks.remaining is not None:
                message["count"] = chunks.remaining
            await send(message)
        finally:
            chunks.close()
        if self.background is not None:
            await self.background()
