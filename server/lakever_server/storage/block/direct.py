"""Writing large blobs past the page cache (``O_DIRECT``).

A buffered write into a new file takes a fresh page-cache page for every 4 KiB, and the
store keeps what it writes, so its page cache only grows: on a virtual machine the first
touch of each page costs the kernel several microseconds, which makes a buffered write of
a large object cost seconds of system time per GiB, more than the disk needs. ``O_DIRECT``
hands the disk one reused, page-aligned buffer instead (a few MiB at a time), costs a
fraction of that and leaves the page cache to reads; the final fsync then has almost
nothing left to flush. Object stores such as MinIO write large objects this way.

A writer is given either chunks (``write``: gathered into its aligned buffer, a copy) or
whole blocks already in an aligned buffer of its own (lent by ``LentBuffers``, then
``write_block``: written where they are). The second serves uploads read straight from
the socket into such a buffer (``write_reader``).

Small blobs stay buffered: tree packs and part records are written whole by one call,
and a direct write waits for the device every time. A writer therefore starts buffered
and switches to ``O_DIRECT`` once its blob passes a threshold, at an aligned offset. The
tail that does not fill an aligned block is written buffered again. Where a file system
refuses ``O_DIRECT`` (``EINVAL``: some FUSE and network file systems, older tmpfs) or an
alignment it needs, the writer goes on buffered: same bytes, same durability.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import queue
import threading
from collections.abc import Callable

from lakever_server.storage.block.base import BodyReader
from lakever_server.storage.block.digests import StreamDigest

ALIGN = 4096
"""Offsets, lengths and buffer addresses of direct writes are multiples of this (the page
size; at least the logical block size of common disks and what file systems ask)."""

DIRECT_BLOCK = 4 * 1024 * 1024
"""Bytes per direct write: large enough that the device streams, small enough that
several writers' buffers stay cheap."""

DIRECT_AFTER = 4 * 1024 * 1024
"""A durable blob switches to ``O_DIRECT`` once it passes this size (tree packs, a few
hundred KiB to 3 MB, stay on the buffered path)."""

KEPT_BUFFERS = 12
"""Free buffers kept for reuse (their pages stay mapped, so no fresh page is touched): as
many as the parts boto3 and the AWS CLI upload at once (10), and a couple more; 48 MiB."""

BUFFERED_PIECE = 256 * 1024
"""Bytes per buffered ``pwrite`` at most. Linux sizes the page-cache folios of a write
after its length (ext4 and XFS use large folios), and a large folio takes a
high-order block of free memory: on a virtual machine whose memory the guest has not
touched yet, that block costs the first-touch fault of every page in it. Here a single
3 MiB ``pwrite`` into a new file took 6-12 ms and the same bytes in 256 or 512 KiB
calls 0.9-1.0 ms (``benchmarks/bench_core`` writes a 2.6 MB tree pack per scattered
commit). Smaller calls reuse recycled small pages; on any machine the extra system
calls cost microseconds per MiB."""

LENT_BUFFERS = 8
"""Aligned buffers one reader fills at most at a time (32 MiB): the one being filled and
those the digests still read. Eight cover three 8 MiB parts hashed at once
(``digests.PartDigests``); with fewer, the reader waits for the hashing."""

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


class _Buffers:
    """A pool of page-aligned buffers of ``DIRECT_BLOCK`` bytes (anonymous ``mmap``)."""

    def __init__(self) -> None:
        self._free: list[tuple[mmap.mmap, memoryview]] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[mmap.mmap, memoryview]:
        with self._lock:
            if self._free:
                return self._free.pop()
        buffer = mmap.mmap(-1, DIRECT_BLOCK)
        return buffer, memoryview(buffer)

    def give(self, pair: tuple[mmap.mmap, memoryview]) -> None:
        with self._lock:
            if len(self._free) < KEPT_BUFFERS:
                self._free.append(pair)
                return
        buffer, view = pair
        view.release()
        buffer.close()


_buffers = _Buffers()


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; ``False`` where the file system refuses."""
    if not _O_DIRECT:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    return True


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (buffered) in calls of at most
    ``BUFFERED_PIECE`` bytes (``os.pwrite`` may also write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view[:BUFFERED_PIECE], offset)
        view, offset = view[written:], offset + written


class BlobWriter:
    """Writes a stream of chunks to ``fd`` from offset ``start``: buffered until
    ``direct_after`` bytes (``None``: always buffered), then through an aligned buffer
    with ``O_DIRECT``. Call ``finish`` after the last chunk (it leaves ``fd`` buffered),
    and ``close`` in any case, which gives the buffer back."""

    __slots__ = ("_buffer", "_direct_after", "_fd", "_filled", "direct", "size", "start")

    def __init__(self, fd: int, start: int = 0, *, direct_after: int | None) -> None:
        self._fd = fd
        self.start = start
        self.size = 0
        """Bytes received so far (written, or waiting in the buffer)."""
        self._direct_after = direct_after if _O_DIRECT and start % ALIGN == 0 else None
        self._buffer: tuple[mmap.mmap, memoryview] | None = None
        self._filled = 0
        self.direct = False
        """Whether the writer has switched to ``O_DIRECT``."""

    def write(self, chunk: bytes) -> None:
        if self._buffer is None:
            after = self._direct_after
            if after is None or self.size + len(chunk) < after:
                pwrite_all(self._fd, chunk, self.start + self.size)
                self.size += len(chunk)
                return
            # Past the threshold: reach an aligned offset buffered, then switch.
            view = memoryview(chunk)
            head = min(len(view), -self.size % ALIGN)
            if head:
                pwrite_all(self._fd, view[:head], self.start + self.size)
                self.size += head
                view = view[head:]
            if self.size % ALIGN:
                return  # a tiny chunk: aligned by a later one
            if not _set_direct(self._fd, True):
                self._direct_after = None
                pwrite_all(self._fd, view, self.start + self.size)
                self.size += len(view)
                return
            self.direct = True
            self._buffer = _buffers.take()
            self._fill(view)
            return
        self._fill(memoryview(chunk))

    def write_block(self, block: memoryview) -> None:
        """Write ``block``, the start of an aligned ``DIRECT_BLOCK`` buffer, from where it is.

        Only full buffers may precede the last block (so every block but the last starts
        aligned), and not after ``write``. A full buffer passes ``DIRECT_AFTER``: it is
        written with ``O_DIRECT`` (when ``direct_after`` allows it), and so is the
        aligned head of a last block after one; what a block holds past its last
        aligned page is written buffered, as ``finish`` does.
        """
        if self._buffer is not None:
            raise RuntimeError("write_block after write")
        aligned = len(block) - len(block) % ALIGN
        offset = self.start + self.size
        after = self._direct_after
        if (
            aligned
            and after is not None
            and offset % ALIGN == 0
            and (self.direct or self.size + len(block) >= after)
        ):
            if not self.direct:
                if _set_direct(self._fd, True):
                    self.direct = True
                else:
                    self._direct_after = None
            if self.direct:
                written = self._write_direct(block[:aligned], offset)
                block, offset = block[written:], offset + written
                self.size += written
        if block:
            self._buffered()
            pwrite_all(self._fd, block, offset)
            self.size += len(block)

    def _write_direct(self, data: memoryview, offset: int) -> int:
        """Write aligned ``data`` with ``O_DIRECT``; the bytes written, all of them unless
        the file system refused (then the writer is buffered again)."""
        done = 0
        while done < len(data):
            try:
                done += os.pwrite(self._fd, data[done:], offset + done)
            except OSError as error:
                if error.errno != errno.EINVAL:
                    raise
                self._buffered()
                self._direct_after = None
                break
            if done % ALIGN:  # a short write left an unaligned offset
                self._buffered()
                break
        return done

    def _fill(self, view: memoryview) -> None:
        assert self._buffer is not None
        buffer = self._buffer[1]
        while view:
            take = min(len(view), DIRECT_BLOCK - self._filled)
            buffer[self._filled : self._filled + take] = view[:take]
            self._filled += take
            self.size += take
            view = view[take:]
            if self._filled == DIRECT_BLOCK:
                self._flush(DIRECT_BLOCK)

    def _flush(self, length: int) -> None:
        """Write the first ``length`` buffered bytes (a multiple of ``ALIGN`` while direct)."""
        assert self._buffer is not None
        data = self._buffer[1][:length]
        offset = self.start + self.size - self._filled
        while data:
            try:
                written = os.pwrite(
                    self._fd, data if self.direct else data[:BUFFERED_PIECE], offset
                )
            except OSError as error:
                # An alignment the file system does not accept (or an unaligned offset
                # after a short direct write): the rest is written buffered.
                if error.errno != errno.EINVAL or not self.direct:
                    raise
                self._buffered()
                continue
            data, offset = data[written:], offset + written
        remaining = self._filled - length
        if remaining:
            buffer = self._buffer[1]
            buffer[:remaining] = buffer[length : self._filled]
        self._filled = remaining

    def _buffered(self) -> None:
        if self.direct:
            _set_direct(self._fd, False)
            self.direct = False

    def finish(self) -> None:
        """Write what is still buffered; ``fd`` is buffered again afterwards."""
        if self._buffer is None:
            self._buffered()  # after write_block
            return
        aligned = self._filled - self._filled % ALIGN
        if aligned and self.direct:
            self._flush(aligned)
        self._buffered()
        if self._filled:
            self._flush(self._filled)
        self.close()

    def close(self) -> None:
        if self._buffer is not None:
            _buffers.give(self._buffer)
            self._buffer = None


class _Lent:
    """An aligned buffer and how many still read it (the writer, digests)."""

    __slots__ = ("pair", "readers")

    def __init__(self, pair: tuple[mmap.mmap, memoryview]) -> None:
        self.pair = pair
        self.readers = 0


class LentBuffers:
    """The aligned buffers a reader fills: each is lent to the digests that hash it
    while it is written, and filled again only once they are done with it."""

    def __init__(self, most: int | None = None) -> None:
        self._most = LENT_BUFFERS if most is None else most
        self._buffers: list[_Lent] = []
        self._changed = threading.Condition(threading.Lock())

    def take(self) -> _Lent:
        """A buffer nobody reads (waiting for one while ``most`` are lent)."""
        with self._changed:
            while True:
                for lent in self._buffers:
                    if lent.readers == 0:
                        lent.readers = 1
                        return lent
                if len(self._buffers) < self._most:
                    break
                self._changed.wait()
        lent = _Lent(_buffers.take())
        lent.readers = 1
        with self._changed:
            self._buffers.append(lent)
        return lent

    def lend(self, lent: _Lent) -> Callable[[], None]:
        """One more reader of ``lent``; call the returned function when it is done."""
        with self._changed:
            lent.readers += 1

        def done() -> None:
            self.release(lent)

        return done

    def release(self, lent: _Lent) -> None:
        with self._changed:
            lent.readers -= 1
            self._changed.notify_all()

    def close(self) -> None:
        """Wait until nobody reads any buffer, then give them back to the pool."""
        with self._changed:
            while any(lent.readers for lent in self._buffers):
                self._changed.wait()
            lent_buffers, self._buffers = self._buffers, []
        for lent in lent_buffers:
            _buffers.give(lent.pair)


def _fill(reader: BodyReader, view: memoryview) -> int:
    """Fill ``view`` from ``reader``; fewer bytes only at the reader's end."""
    filled = 0
    while filled < len(view):
        count = reader.readinto(view[filled:])
        if count == 0:
            break
        filled += count
    return filled


class _WriteBehind:
    """Writes the blocks it is handed in order on a thread of its own, so that the
    reader fills the next buffer (from the socket) while the disk takes this one.

    Hand-written: an executor would not keep the writes in order without a queue of its
    own, nor stop at the first failure. The first error is raised by the next ``write``
    or by ``close``; blocks handed after it are released unwritten.
    """

    def __init__(self, writer: BlobWriter, written: Callable[[], None]) -> None:
        self._writer = writer
        self._written = written
        self._queue: queue.SimpleQueue[tuple[memoryview, Callable[[], None]] | None] = (
            queue.SimpleQueue()
        )
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lakever-write-behind")
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            block, done = item
            try:
                if self.error is None:
                    self._writer.write_block(block)
                    self._written()
            except BaseException as error:  # handed to the reader's thread
                self.error = error
            finally:
                done()

    def write(self, block: memoryview, done: Callable[[], None]) -> None:
        """Queue ``block``; ``done`` is called once it is written (or dropped)."""
        if self.error is not None:
            done()
            raise self.error
        self._queue.put((block, done))

    def close(self) -> None:
        """Wait until every queued block is written; raise the first error if any."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def write_reader(
    writer: BlobWriter,
    reader: BodyReader,
    digest: StreamDigest | None,
    written: Callable[[], None] = lambda: None,
    limit: int | None = None,
) -> str:
    """Read ``reader`` to its end into aligned buffers (``LentBuffers``) and write each
    with ``writer.write_block`` where it is, after handing it to ``digest`` (which hashes
    it on another thread meanwhile); return the digest's ``hexdigest`` ("" without one).

    The writes run on a thread of their own, a few buffers behind the reads
    (``_WriteBehind``): reading the socket, hashing and writing to the disk overlap.
    ``written`` is called (on that thread) after each block is written. A reader with
    more than ``limit`` bytes raises ``ValueError`` (none is written past the limit).
    Every write is done, or failed, when this returns or raises, and the buffers are
    back in the pool: on a failure too, the digest is waited for (it may still read
    them, or hold blocks it gathers until its end).
    """
    lent = LentBuffers()
    finished = False
    try:
        _read_and_write(writer, reader, digest, lent, written, limit)
        checksum = "" if digest is None else digest.hexdigest()
        finished = True
    finally:
        if digest is not None and not finished:
            with contextlib.suppress(Exception):  # the write's error is the one to tell
                digest.hexdigest()
        lent.close()
    return checksum


def _read_and_write(
    writer: BlobWriter,
    reader: BodyReader,
    digest: StreamDigest | None,
    lent: LentBuffers,
    written: Callable[[], None],
    limit: int | None,
) -> None:
    behind = _WriteBehind(writer, written)
    total = 0
    try:
        while True:
            buffer = lent.take()
            try:
                view = buffer.pair[1]
                if limit is not None:
                    view = view[: min(len(view), limit - total)]
                filled = _fill(reader, view)
                if filled:
                    block = view[:filled]
                    total += filled
                    if digest is not None:
                        digest.update(block, lent.lend(buffer))
                    behind.write(block, lent.lend(buffer))
            finally:
                lent.release(buffer)
            if filled < len(view):
                break
            if limit is not None and total >= limit:
                if reader.readinto(memoryview(bytearray(1))):
                    raise ValueError(f"the content is longer than {limit} bytes")
                break
    except BaseException:
        with contextlib.suppress(BaseException):  # the reader's error is the one to tell
            behind.close()
        raise
    behind.close()
