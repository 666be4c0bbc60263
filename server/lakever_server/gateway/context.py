"""One S3 request as the operations see it, and the bridge that streams its body into
the synchronous catalog.

The catalog and block store are synchronous; the body arrives on the event loop. An
operation that consumes the body runs in a worker thread and pulls the body from the
loop block by block (``run_with_body``), so an upload of any size holds about one block
in memory and the loop stays free for other requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.payload import VerifiedBody
from lakever_server.gateway.sigv4 import Authenticated, SignableRequest

T = TypeVar("T")
BLOCK_SIZE = 1024 * 1024
PREFETCH_BLOCKS = 4
MAX_XML_BODY = 8 * 1024 * 1024


def signable_request(request: Request) -> SignableRequest:
    """The request's signed parts, with the path exactly as the client sent it."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/~")
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    query = scope.get("query_string", b"").decode("latin-1")
    return SignableRequest(request.method, path, query, headers)


@dataclass
class S3Request:
    """An authenticated S3 request, addressed path-style ``/<repo>/<ref>/<path>``.

    Attributes:
        repository: the bucket ("" for the service: ListBuckets).
        ref: the first key segment ("" when the request addresses the bucket).
        path: the rest of the key.
        key: the full S3 key (``ref/path``).
        query: the decoded query parameters (last value wins).
        checksum_headers: the checksums ``run_with_body`` verified, as response headers.
    """

    http: Request
    services: Any
    signable: SignableRequest
    auth: Authenticated
    repository: str
    key: str
    query: dict[str, str] = field(default_factory=dict)
    checksum_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.key.partition("/")[0]

    @property
    def path(self) -> str:
        return self.key.partition("/")[2]

    @property
    def catalog(self) -> Any:
        return self.services.catalog

    def header(self, name: str) -> str | None:
        return self.signable.header(name)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a synchronous catalog or store call in the thread pool."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def run_with_body(self, fn: Callable[[Iterator[bytes]], T]) -> T:
        """Run ``fn(body)`` in a worker thread; ``body`` yields the verified object bytes.

        Afterwards ``checksum_headers`` holds the verified ``x-amz-checksum-*`` values
        for the response.
        """

        def run(raw: Iterator[bytes]) -> T:
            body = VerifiedBody(raw, self.auth, self.signable)
            result = fn(iter(body))
            self.checksum_headers = body.checksum_headers
            return result

        return await run_with_request_body(self.http, run)

    async def small_body(self, limit: int = MAX_XML_BODY) -> bytes:
        """A small verified body (XML documents), refused beyond ``limit`` bytes."""

        def read(body: Iterator[bytes]) -> bytes:
            parts: list[bytes] = []
            size = 0
            for block in body:
                size += len(block)
                if size > limit:
                    raise S3Error("MaxMessageLengthExceeded", "the request body is too large")
                parts.append(block)
            return b"".join(parts)

        return await self.run_with_body(read)


async def run_with_request_body(http: Request, fn: Callable[[Iterator[bytes]], T]) -> T:
    """Run ``fn(body)`` in a worker thread; ``body`` yields the raw request body as the
    server received it (pieces of up to a few hundred KiB).

    A task on the event loop receives the body ahead of ``fn``, up to ``PREFETCH_BLOCKS``
    groups of about ``BLOCK_SIZE``, so the socket is read while ``fn`` hashes and writes
    the previous ones (pulling each piece only on demand would leave one side idle at any
    time). Groups cost one hand-over between threads each, and are not joined: that would
    copy every byte once more. If ``fn`` stops early, the rest of the body is left unread.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[bytes] | Exception | None] = asyncio.Queue(PREFETCH_BLOCKS)

    async def receive() -> None:
        try:
            parts: list[bytes] = []
            size = 0
            async for part in http.stream():
                if part:
                    parts.append(part)
                    size += len(part)
                if size >= BLOCK_SIZE:
                    await queue.put(parts)
                    parts, size = [], 0
            if parts:
                await queue.put(parts)
            await queue.put(None)
        except Exception as error:  # handed to the consumer, which raises it
            await queue.put(error)

    def raw_body() -> Iterator[bytes]:
        while True:
            item = asyncio.run_coroutine_threadsafe(queue.get(), loop).result()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield from item

    receiver = loop.create_task(receive())
    try:
        return await anyio.to_thread.run_sync(lambda: fn(raw_body()))
    finally:
        if not receiver.done():
            receiver.cancel()
            await asyncio.wait({receiver})


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


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Consume a body nobody reads, so the connection can be reused."""
    async for _ in stream:
        pass
