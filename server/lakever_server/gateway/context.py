"""One S3 request as the operations see it, and the bridge that streams its body into
the synchronous catalog.

The catalog and block store are synchronous; the body arrives on the event loop. An
operation that consumes the body runs in a worker thread and pulls the body from the
loop block by block (``run_with_body``), so an upload of any size holds about one block
in memory and the loop stays free for other requests.

Where the server offers it (``zerocopy.receive``: plain HTTP, a ``Content-Length`` body
of a MiB or more), an upload that needs no checking on the way (WebHDFS; S3 with
``UNSIGNED-PAYLOAD`` and no checksum) is instead read by its worker thread straight from
the socket into the block store's write buffers (``run_with_body_reader``): no pieces
pass through the loop at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import queue
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.payload import VerifiedBody, needs_checking
from lakever_server.gateway.sigv4 import Authenticated, SignableRequest
from lakever_server.storage.block.base import BodyReader
from lakever_server.zerocopy.receive import open_body_reader, read_in_thread

T = TypeVar("T")
BLOCK_SIZE = 2 * 1024 * 1024
PREFETCH_BLOCKS = 4
MAX_XML_BODY = 8 * 1024 * 1024

KEPT_FREE_MEMORY = 64 * 1024 * 1024
"""Freed heap memory (per malloc arena) kept instead of returned to the system: the
bodies in flight of ten parallel part uploads (boto3's default) fit."""

MMAP_ABOVE = 4 * 1024 * 1024
"""Allocations from this size on still get mappings of their own, returned when freed."""

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_malloc_tuned = False


def _keep_freed_memory() -> None:
    """Stop glibc's malloc from handing freed body buffers back to the system (once per
    process; Linux with glibc only).

    Every body piece is a new bytes object of up to a few hundred KiB. By default glibc
    serves such sizes from ``mmap`` or trims the heap as soon as its top is free, so the
    next piece takes fresh pages, and the first touch of each costs the kernel a fault
    (thousands per GiB received, microseconds each on a virtual machine). Fixed
    thresholds keep up to ``KEPT_FREE_MEMORY`` of freed memory for reuse; buffers of
    ``MMAP_ABOVE`` or more are left to ``mmap`` so none of them is kept.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE)
    mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_MEMORY)


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

    async def run_with_body_reader(self, fn: Callable[[Iterator[bytes] | BodyReader], T]) -> T:
        """``run_with_body``, or ``fn(reader)`` with a reader of the body straight from
        the socket when the body needs no checking or decoding (``needs_checking``) and
        the server offers one (``run_with_request_reader``)."""
        if needs_checking(self.auth, self.signable):
            return await self.run_with_body(fn)
        return await run_with_request_reader(self.http, fn)

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


class _Handover:
    """Groups of body pieces from the event loop to one worker thread, at most ``limit``
    waiting: the loop waits (without blocking) when the worker is that far behind.

    A ``SimpleQueue`` (C, lock-free for the putter) instead of an ``asyncio.Queue`` read
    through ``run_coroutine_threadsafe``: that cost a task, two futures and a wake-up of
    the loop per group; here the worker wakes the loop only when it was waiting.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._loop = loop
        self._limit = limit
        self._items: queue.SimpleQueue[list[bytes] | BaseException | None] = queue.SimpleQueue()
        self._room = asyncio.Event()
        self._waiting = False

    async def put(self, item: list[bytes] | BaseException | None) -> None:
        """Queue ``item`` (on the loop), first waiting while ``limit`` items wait."""
        while self._items.qsize() >= self._limit:
            # Flagged and cleared before the check again: a get in between either
            # leaves room (no wait) or sees the flag and sets the event (no lost wake-up).
            self._waiting = True
            self._room.clear()
            if self._items.qsize() >= self._limit:
                await self._room.wait()
            self._waiting = False
        self._items.put(item)

    def close(self, error: BaseException) -> None:
        """Fail the worker's next ``get`` (the receiver is gone); never waits."""
        self._items.put(error)

    def get(self) -> list[bytes] | BaseException | None:
        """The next item (in the worker thread), waiting for it."""
        item = self._items.get()
        if self._waiting:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._room.set)
        return item


async def run_with_request_body(http: Request, fn: Callable[[Iterator[bytes]], T]) -> T:
    """Run ``fn(body)`` in a worker thread; ``body`` yields the raw request body as the
    server received it (pieces of up to a few hundred KiB).

    A task on the event loop receives the body ahead of ``fn``, up to ``PREFETCH_BLOCKS``
    groups of about ``BLOCK_SIZE``, so the socket is read while ``fn`` hashes and writes
    the previous ones (pulling each piece only on demand would leave one side idle at any
    time). Groups cost one hand-over between threads each, and are not joined: that would
    copy every byte once more. If ``fn`` stops early, the rest of the body is left unread.
    """
    _keep_freed_memory()
    handover = _Handover(asyncio.get_running_loop(), PREFETCH_BLOCKS)

    async def receive() -> None:
        try:
            parts: list[bytes] = []
            size = 0
            async for part in http.stream():
                if part:
                    parts.append(part)
                    size += len(part)
                if size >= BLOCK_SIZE:
                    await handover.put(parts)
                    parts, size = [], 0
            if parts:
                await handover.put(parts)
            await handover.put(None)
        except Exception as error:  # handed to the consumer, which raises it
            await handover.put(error)

    def raw_body() -> Iterator[bytes]:
        while True:
            item = handover.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    receiver = asyncio.get_running_loop().create_task(receive())
    try:
        return await anyio.to_thread.run_sync(lambda: fn(raw_body()))
    finally:
        if not receiver.done():
            receiver.cancel()
            await asyncio.wait({receiver})
        # A worker still reading (this task was cancelled) stops instead of waiting.
        handover.close(ClientDisconnect())


async def run_with_request_reader(
    http: Request, fn: Callable[[Iterator[bytes] | BodyReader], T]
) -> T:
    """Run ``fn(reader)`` in a worker thread, ``reader`` the request body read straight
    from the socket (``zerocopy.receive``), when the server offers one; otherwise
    ``run_with_request_body`` (``fn`` then gets the body's pieces)."""
    reader = open_body_reader(http.scope)
    if reader is None:
        return await run_with_request_body(http, fn)
    return await read_in_thread(reader, fn)


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Consume a body nobody reads, so the connection can be reused."""
    async for _ in stream:
        pass
