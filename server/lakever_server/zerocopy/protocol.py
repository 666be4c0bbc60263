"""uvicorn's httptools protocol with the ASGI ``http.response.zerocopysend`` extension.

The server advertises ``scope["extensions"]["http.response.zerocopysend"]`` on plain
HTTP connections (TLS hides the bytes from the kernel, so it is never offered there).
An application that received it may answer a response body with::

    {"type": "http.response.zerocopysend", "file": <object with fileno()>,
     "offset": int | None, "count": int | None, "more_body": bool}

and the server sends ``count`` bytes of the file from ``offset`` (omitted: the file's
current position, then advanced; to its end) with ``os.sendfile``. The application
keeps ownership of the file and closes it after ``send`` returns.

How it sits in uvicorn (pinned to the uvicorn in ``requirements/dev.lock``; the tests of
``tests/server/test_zerocopy_protocol.py`` fail if its internals move):

- ``RequestResponseCycle.send`` of httptools_impl keeps the response state (headers
  written, ``expected_content_length``, keep-alive, completion). ``ZeroCopyCycle``
  handles only the new message and then hands uvicorn an empty body message carrying
  ``more_body``, so completion, keep-alive, ``Content-Length`` accounting and the start
  of a pipelined request stay uvicorn's own code. uvicorn builds the cycle in
  ``on_headers_complete`` with no factory hook: the protocol gives each new cycle this
  subclass (it adds behaviour, no state uvicorn knows of).
- The socket is non-blocking and owned by the event loop's transport (uvloop refuses
  ``add_writer`` on a descriptor a transport owns). The headers went through the
  transport, so the sender first waits until its buffer is empty (they are on the wire in
  order), then calls ``os.sendfile`` on the socket's descriptor. When the socket buffer
  is full (``EAGAIN``), it waits for the socket to become writable on a duplicate of the
  descriptor (``os.dup``: same socket, a descriptor the loop lets us poll), never
  blocking the loop on the network. A short send means the same (the buffer filled), so
  it waits too: other connections get their turn between two sends, and a slow reader
  is sent large pieces rather than every few KiB it frees.
- The disk side of ``sendfile`` is synchronous: pages not in the page cache would be
  read while the loop waits. The sender keeps the disk ``READ_AHEAD`` ahead of the
  socket with ``POSIX_FADV_WILLNEED`` (as the block store does for iterated reads;
  asked from a worker thread, as the request itself takes milliseconds when cold), and
  before each call probes whether the pages it is about to send are read already
  (``preadv`` of one byte with ``RWF_NOWAIT``): if so it sends on the loop, otherwise in
  a worker thread, which then waits for the disk in the loop's stead. Warm reads cost no
  thread hop; cold ones one per call (a few MiB).
- A client that goes away mid-body makes ``sendfile`` fail (``EPIPE``,
  ``ECONNRESET``) or the transport report the lost connection, which wakes a pending
  wait: the connection is closed, the cycle marked disconnected, and ``send`` returns
  as uvicorn's own ``send`` does for a disconnected client. A file shorter than the
  promised count cannot complete the response: the connection is closed and ``send``
  raises.
- HEAD responses send no body (uvicorn's rule); a chunked response (no
  ``Content-Length``) gets the range read and framed through the normal body path.

The same cycle also receives request bodies without copying them: uvicorn appends each
piece the parser hands over to a ``bytearray`` and copies that again into the
``http.request`` message, and stops reading the socket past 64 KiB. Here the pieces are
kept as they came and handed on as they are (joined only when several wait), and the
socket is read on until ``BODY_HIGH_WATER`` bytes wait, so a large upload costs the
event loop one wake-up per few hundred KiB and no copy of its own. The messages are the
same: the body bytes in order, ``more_body``, ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Mapping
from typing import Any, cast

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import is_ssl

from lakever_server.zerocopy import ZEROCOPY_SEND

READ_AHEAD = 16 * 1024 * 1024
"""How far ahead of the socket the disk is asked to be (``POSIX_FADV_WILLNEED``)."""
MAX_SEND = 0x7FFFF000
"""The most Linux sends in one ``sendfile`` call."""
FALLBACK_PIECE = 1024 * 1024
"""The piece size of a zero-copy message sent chunked (read, then framed)."""

BODY_HIGH_WATER = 1024 * 1024
"""Request body bytes waiting for the application before the socket stops being read."""

PROBE_SPAN = 4 * 1024 * 1024
"""How far into a range the page cache is probed before sending it on the loop (about
what one ``sendfile`` call moves: the socket's send buffer grows to 4 MiB)."""

_GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN})
_can_advise = hasattr(os, "posix_fadvise")
_nowait: int | None = getattr(os, "RWF_NOWAIT", None)


def _read_ahead(fd: int, offset: int, length: int) -> None:
    with contextlib.suppress(OSError):  # not a regular file: nothing to read ahead
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)


def _in_page_cache(fd: int, offset: int, length: int) -> bool:
    """Whether the last page of ``[offset, offset + length)`` is read already, so that a
    ``sendfile`` of the range would not wait for the disk (pages are read in order: the
    earlier ones are then read too, or nearly). ``RWF_NOWAIT`` reads only what is cached.
    """
    if _nowait is None or length <= 0:
        return _nowait is None
    try:
        os.preadv(fd, [bytearray(1)], offset + length - 1, _nowait)
    except BlockingIOError:
        return False
    except OSError:  # the file system cannot tell: send on the loop as if cached
        return True
    return True


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering ``http.response.zerocopysend``."""

    verified_with = "0.54.0"
    """The uvicorn whose internals this subclass was written and tested against."""

    socket_fd: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and not is_ssl(transport) and hasattr(os, "sendfile"):
            self.socket_fd = sock.fileno()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.socket_fd is not None:
            self.scope.setdefault("extensions", {})[ZEROCOPY_SEND] = {}

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if self.socket_fd is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = ZeroCopyCycle
            cast(ZeroCopyCycle, cycle).attach(self.socket_fd)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is not ZeroCopyCycle:
            super().on_body(body)
            return
        # As uvicorn's, keeping the pieces instead of copying them into one buffer.
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.pieces.append(body)
        cycle.waiting += len(body)
        if cycle.waiting > BODY_HIGH_WATER:
            self.flow.pause_reading()
        cycle.message_event.set()

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        super().connection_lost(exc)
        if isinstance(cycle, ZeroCopyCycle):
            cycle.wake()


class ZeroCopyCycle(RequestResponseCycle):
    """One request's cycle, able to send a body with ``os.sendfile``.

    Never constructed: ``ZeroCopyHttpToolsProtocol`` gives uvicorn's cycles this class,
    then calls ``attach``.
    """

    socket_fd: int
    waiter: asyncio.Future[None] | None
    pieces: list[bytes]
    waiting: int

    def attach(self, socket_fd: int) -> None:
        self.socket_fd = socket_fd
        self.waiter = None
        self.pieces = []
        self.waiting = 0

    async def receive(self) -> ASGIReceiveEvent:
        # uvicorn's receive, handing on the pieces ``on_body`` kept.
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        pieces = self.pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.pieces, self.waiting = [], 0
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    def wake(self) -> None:
        """Wake a pending wait for the socket (the connection was lost)."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] != ZEROCOPY_SEND or not self.response_started:
            await super().send(message)  # uvicorn's checks refuse a misplaced message
            return
        if self.response_complete:
            await super().send(message)
            return
        fields = cast(Mapping[str, Any], message)
        more_body = bool(fields.get("more_body", False))
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if self.scope["method"] != "HEAD":
            file = fields["file"]
            fd: int = file if isinstance(file, int) else file.fileno()
            offset: int | None = fields.get("offset")
            advance = offset is None
            if offset is None:
                offset = os.lseek(fd, 0, os.SEEK_CUR)
            count: int | None = fields.get("count")
            if count is None:
                count = max(0, os.fstat(fd).st_size - offset)
            if self.chunked_encoding:
                await self._send_read(fd, offset, count)
            else:
                if count > self.expected_content_length:
                    raise RuntimeError("Response content longer than Content-Length")
                if not await self._sendfile(fd, offset, count):
                    return
                self.expected_content_length -= count
            if advance:
                os.lseek(fd, offset + count, os.SEEK_SET)
            if self.disconnected:
                return
        await super().send({"type": "http.response.body", "body": b"", "more_body": more_body})

    async def _send_read(self, fd: int, offset: int, count: int) -> None:
        """The range read and sent as chunked body pieces (no length to send it raw)."""
        end = offset + count
        while offset < end and not self.disconnected:
            piece = os.pread(fd, min(FALLBACK_PIECE, end - offset), offset)
            if not piece:
                self._abort()
                raise RuntimeError("Response file shorter than the count to send")
            offset += len(piece)
            await super().send({"type": "http.response.body", "body": piece, "more_body": True})

    async def _sendfile(self, fd: int, offset: int, count: int) -> bool:
        """Send ``[offset, offset + count)`` of ``fd``; ``False`` when the client left."""
        loop = asyncio.get_running_loop()
        poll_fd = -1
        advice: asyncio.Future[None] | None = None
        try:
            while self.transport.get_write_buffer_size():  # the headers, still buffered
                if self.disconnected or self.transport.is_closing():
                    return False
                poll_fd = poll_fd if poll_fd >= 0 else os.dup(self.socket_fd)
                await self._writable(poll_fd)
                await asyncio.sleep(0)  # let the transport write its buffer first
            end = offset + count
            advised = offset
            while offset < end:
                if self.disconnected or self.transport.is_closing():
                    return False
                if (
                    _can_advise
                    and advised < end
                    and advised - offset < READ_AHEAD
                    and (advice is None or advice.done())
                ):
                    # In a thread: asking for 32 MiB takes milliseconds when cold.
                    length = min(2 * READ_AHEAD, end - advised)
                    advice = loop.run_in_executor(None, _read_ahead, fd, advised, length)
                    advised += length
                piece = min(end - offset, MAX_SEND)
                try:
                    if _in_page_cache(fd, offset, min(piece, PROBE_SPAN)):
                        sent = os.sendfile(self.socket_fd, fd, offset, piece)
                    else:
                        sent = await self._sendfile_in_thread(fd, offset, piece)
                except BlockingIOError:
                    poll_fd = poll_fd if poll_fd >= 0 else os.dup(self.socket_fd)
                    await self._writable(poll_fd)
                    continue
                except OSError as error:
                    if error.errno not in _GONE:
                        raise
                    self._abort()
                    return False
                if sent == 0:
                    self._abort()
                    raise RuntimeError("Response file shorter than the count to send")
                offset += sent
                if offset < end:
                    # A short send: the socket buffer is full. Waiting until the kernel
                    # reports it writable (a good part of it drained) sends in large
                    # pieces, where sending again at once would trickle what a slow
                    # reader just freed.
                    poll_fd = poll_fd if poll_fd >= 0 else os.dup(self.socket_fd)
                    await self._writable(poll_fd)
            return True
        finally:
            if advice is not None and not advice.done():
                await asyncio.wait({advice})  # the caller closes the file once we return
            if poll_fd >= 0:
                os.close(poll_fd)

    async def _sendfile_in_thread(self, fd: int, offset: int, count: int) -> int:
        """``os.sendfile`` in a worker thread, which waits for the disk instead of the
        loop (the socket stays non-blocking: the network never holds the thread)."""
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, os.sendfile, self.socket_fd, fd, offset, count)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            # The caller closes the file once we return: not while the thread reads it.
            await asyncio.wait({job})
            raise

    async def _writable(self, poll_fd: int) -> None:
        """Until the socket accepts more bytes, or the connection is lost."""
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        loop.add_writer(poll_fd, self.wake)
        try:
            await waiter
        finally:
            loop.remove_writer(poll_fd)
            self.waiter = None

    def _abort(self) -> None:
        self.disconnected = True
        if not self.transport.is_closing():
            self.transport.close()
