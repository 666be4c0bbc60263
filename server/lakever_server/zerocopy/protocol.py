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

A request with a ``Content-Length`` body of at least ``READINTO_AFTER`` bytes (not
chunked, not an upgrade) is also offered ``lakever.http.request.readinto``
(``ZEROCOPY_RECEIVE``): the application's worker thread reads the body straight into its
own buffers (the block store's aligned write buffers), with no ``bytes`` object per
piece, no join and no hand-over between threads. Opening the reader (on the loop, before
any body was received):

- answers ``Expect: 100-continue`` as ``receive`` would;
- pauses the transport's reading, so the loop no longer reads the socket (uvloop and
  asyncio drop a pending read when paused), and hands the reader the pieces parsed
  already; the rest, exactly the ``Content-Length`` bytes the parser has not seen, the
  reader reads from a duplicate of the socket's descriptor (``os.dup``: ours to close,
  whatever the transport does), polling it (``select.poll``) while the socket is empty;
- marks the connection not to be kept alive: the parser never saw those bytes, so it
  cannot go on to a next request. For bodies of a MiB or more a new connection costs
  nothing. When the whole body was parsed already, the reader only hands out the pieces
  and the connection is kept.

A client that closes or resets the connection before the end, or sends nothing for
``READ_IDLE_TIMEOUT`` seconds, makes ``readinto`` raise ``BodyIncomplete``. ``receive``
called after the reader was opened waits until the reader ended, then gives the end of
the body (an empty last ``http.request``) if the reader gave all of it, else
``http.disconnect`` (the body cannot be read twice), then waits for the response as
uvicorn's does. This poll-and-read loop is written by hand: neither uvicorn nor the
event loops offer a body read outside the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, cast

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import is_ssl

from lakever_server.zerocopy import ZEROCOPY_RECEIVE, ZEROCOPY_SEND, BodyIncomplete

READ_AHEAD = 16 * 1024 * 1024
"""How far ahead of the socket the disk is asked to be (``POSIX_FADV_WILLNEED``)."""
MAX_SEND = 0x7FFFF000
"""The most Linux sends in one ``sendfile`` call."""
FALLBACK_PIECE = 1024 * 1024
"""The piece size of a zero-copy message sent chunked (read, then framed)."""

BODY_HIGH_WATER = 1024 * 1024
"""Request body bytes waiting for the application before the socket stops being read."""

READINTO_AFTER = 1024 * 1024
"""Request bodies of at least this many bytes are offered ``ZEROCOPY_RECEIVE``; smaller
ones take a few pieces through ``receive``, where a reader would save nothing."""

READ_IDLE_TIMEOUT = 60.0
"""Seconds a body reader waits for the next bytes before it gives up on the client."""

POLL_SLICE = 0.5
"""A reader waiting for the socket checks this often whether the connection was lost."""

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


def _body_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` of a request's body; ``None`` when chunked or absent."""
    length = None
    for name, value in headers:  # uvicorn lowercased the names
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            if not value.strip().isdigit():
                return None
            length = int(value)
    return length


class SocketBodyReader:
    """The rest of a request body, for a worker thread: the pieces the parser handed over
    already, then ``missing`` bytes read from ``fd`` (a duplicate of the socket's
    descriptor, non-blocking, closed by the reader). ``ended`` is called (in the
    reader's thread) once the reader gave every byte, failed, or was closed.
    """

    def __init__(
        self,
        pieces: list[bytes],
        missing: int,
        fd: int,
        length: int,
        ended: Callable[[], None],
    ) -> None:
        self.length = length
        """The body's size (its ``Content-Length``)."""
        self._pieces = deque(memoryview(piece) for piece in pieces if piece)
        self._missing = missing
        self._fd = fd
        self._poll: select.poll | None = None
        self._notify = ended
        self.complete = False
        """Every byte of the body was given."""
        self.ended = False
        """Complete, failed or closed."""
        self.abandoned = False
        """The connection was lost (set on the event loop): stop waiting for the socket."""

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill the start of ``buffer`` with the next body bytes; their count, at least
        one, or 0 at the end of the body. Blocks while the socket is empty."""
        view = memoryview(buffer)
        if self.ended:
            if self.complete:
                return 0
            raise BodyIncomplete("the request body was closed before its end")
        if not view:
            return 0
        try:
            if self._pieces:
                count = self._copy_piece(view)
            elif self._missing:
                count = self._receive(view)
            else:
                count = 0
        except BaseException:
            self._end(complete=False)
            raise
        if not self._pieces and not self._missing:
            self._end(complete=True)
        return count

    def _copy_piece(self, view: memoryview) -> int:
        piece = self._pieces[0]
        count = min(len(view), len(piece))
        view[:count] = piece[:count]
        if count == len(piece):
            self._pieces.popleft()
        else:
            self._pieces[0] = piece[count:]
        return count

    def _receive(self, view: memoryview) -> int:
        if self._fd < 0:  # the connection was lost before the reader was opened
            raise BodyIncomplete("the client left before the end of the request body")
        want = view[: min(len(view), self._missing)]
        deadline = time.monotonic() + READ_IDLE_TIMEOUT
        while True:
            try:
                count = os.readv(self._fd, [want])
            except BlockingIOError:
                self._wait_readable(deadline)
                continue
            except OSError as error:
                if error.errno not in _GONE:
                    raise
                raise BodyIncomplete("the client reset the connection during the body") from None
            if count == 0:
                raise BodyIncomplete(
                    f"the client closed the connection {self._missing} bytes before the "
                    "end of the request body"
                )
            self._missing -= count
            return count

    def _wait_readable(self, deadline: float) -> None:
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
        while True:
            if self.abandoned:
                raise BodyIncomplete("the connection was closed during the request body")
            left = deadline - time.monotonic()
            if left <= 0:
                raise BodyIncomplete(
                    f"the client sent no body bytes for {READ_IDLE_TIMEOUT:g} seconds"
                )
            if self._poll.poll(max(1, round(min(left, POLL_SLICE) * 1000))):
                return  # readable, closed or failed: the read tells which

    def close(self) -> None:
        """End the reader (the rest of the body, if any, stays unread)."""
        if not self.ended:
            self._end(complete=False)

    def _end(self, *, complete: bool) -> None:
        self.complete = complete
        self.ended = True
        self._pieces.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._notify()


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering ``http.response.zerocopysend`` and
    ``lakever.http.request.readinto``."""

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
            zero_copy = cast(ZeroCopyCycle, cycle)
            zero_copy.attach(self.socket_fd)
            length = _body_length(self.headers)
            if length is not None and length >= READINTO_AFTER:
                zero_copy.body_length = length
                offer: dict[object, object] = {
                    "length": length,
                    "open": zero_copy.open_body_reader,
                }
                self.scope.setdefault("extensions", {})[ZEROCOPY_RECEIVE] = offer

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
        cycle.parsed += len(body)
        if cycle.waiting > BODY_HIGH_WATER:
            self.flow.pause_reading()
        cycle.message_event.set()

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        super().connection_lost(exc)
        if isinstance(cycle, ZeroCopyCycle):
            cycle.wake()
            if cycle.reader is not None:
                cycle.reader.abandoned = True


class ZeroCopyCycle(RequestResponseCycle):
    """One request's cycle, able to send a body with ``os.sendfile``.

    Never constructed: ``ZeroCopyHttpToolsProtocol`` gives uvicorn's cycles this class,
    then calls ``attach``.
    """

    socket_fd: int
    waiter: asyncio.Future[None] | None
    pieces: list[bytes]
    waiting: int
    parsed: int
    """Body bytes the parser handed over so far."""
    body_length: int | None
    """The ``Content-Length`` when a body reader is offered."""
    reader: SocketBodyReader | None
    body_received: bool
    """``receive`` gave body bytes: the body can no longer be read by a reader."""
    end_given: bool
    """``receive`` gave the end of a body read by the reader."""

    def attach(self, socket_fd: int) -> None:
        self.socket_fd = socket_fd
        self.waiter = None
        self.pieces = []
        self.waiting = 0
        self.parsed = 0
        self.body_length = None
        self.reader = None
        self.body_received = False
        self.end_given = False

    def open_body_reader(self) -> SocketBodyReader:
        """The ``ZEROCOPY_RECEIVE`` reader of the body (on the event loop, once, before
        any body bytes were received)."""
        if self.body_length is None or self.reader is not None or self.body_received:
            raise RuntimeError("the request body was read already")
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        pieces, self.pieces, self.waiting = self.pieces, [], 0
        missing = self.body_length - self.parsed
        fd = -1
        if missing > 0 and not self.disconnected:
            # From here on the socket is the reader's: the parser never sees the rest.
            self.flow.pause_reading()
            self.keep_alive = False
            fd = os.dup(self.socket_fd)
        loop = asyncio.get_running_loop()

        def ended() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self.message_event.set)

        self.reader = SocketBodyReader(pieces, missing, fd, self.body_length, ended)
        return self.reader

    async def _receive_after_reader(self, reader: SocketBodyReader) -> ASGIReceiveEvent:
        while not (reader.ended or self.disconnected or self.response_complete):
            self.message_event.clear()
            await self.message_event.wait()
        if reader.complete and not self.end_given and not self.disconnected:
            self.end_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while self.end_given and not (self.disconnected or self.response_complete):
            self.message_event.clear()
            await self.message_event.wait()
        return {"type": "http.disconnect"}

    async def receive(self) -> ASGIReceiveEvent:
        if self.reader is not None:
            return await self._receive_after_reader(self.reader)
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
        self.body_received = self.body_received or bool(body)
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
