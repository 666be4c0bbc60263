"""Digests computed beside a stream instead of in its way.

Every large upload is hashed several times (MD5 for the ETag; the client's SHA-256 and
CRC checksums) and written to disk. Each of those runs in C with the GIL released, so on
two cores they can run at the same time. ``BackgroundDigests`` feeds each block to its
hashers on a worker thread while the caller goes on with the block (writing it, hashing
it otherwise, receiving the next one); it stays at most a few batches behind, in order,
so memory stays bounded and the digests are exactly those of the stream.

A block may be a view of a buffer its caller reuses: ``update(block, done)`` calls
``done`` once every hasher has read the block (or hashing stopped on an error), and
until then the caller must leave the buffer alone. The block store reads large uploads
straight into its aligned write buffers this way and hashes them where they are.

Small blocks are gathered first (a small upload is hashed inline at the end): handing
each to a thread would cost more than hashing it.

An MD5 is one serial chain: on this class of CPU one core hashes about 700 MiB/s, less
than a local disk writes. ``PartDigests`` computes instead the checksum S3 gives an
object uploaded in parts (the MD5 of the part MD5s, then ``-N``), which hashes each part
on its own, so the parts of one stream are hashed on several cores at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from lakever_server.storage.pools import SharedPool

INLINE_BELOW = 1024 * 1024
"""Blocks are handed to a thread in batches of at least this many bytes; fewer left at
the end are hashed in the caller's thread. A hand-over costs tens of microseconds in
both threads: a batch of 1 MiB is 1,024 of them per GiB, where bodies received in pieces
of 64-256 KiB would cost four to sixteen times as many."""

MAX_PENDING = 4
"""Batches handed over and not yet hashed, at most (so memory stays bounded)."""

POOL_THREADS = 8

PART_BYTES = 8 * 1024 * 1024
"""The part size of ``PartDigests``: boto3 and the AWS CLI upload a file of this size
or more in parts of this size (their default ``multipart_threshold`` and
``multipart_chunksize``), so a stream of the same bytes gets the same checksum."""

MAX_OPEN_PARTS = 3
"""Parts of one stream being hashed at once, at most: a part is held until hashed, so
this bounds the memory of a stream that arrives faster than it is hashed."""


Block = bytes | memoryview
"""A block to hash: bytes, or a view of a buffer lent until its ``done``."""


class Hasher(Protocol):
    """What ``hashlib`` objects and the CRC wrappers offer."""

    def update(self, data: Block, /) -> None: ...

    def digest(self) -> bytes: ...


_digest_pool = SharedPool(POOL_THREADS, "lakever-digest")
"""The process-wide pool that hashes blocks."""


Done = Callable[[], None]
"""Called once the hashers have read a block: its buffer may be reused."""


def _feed(hashers: Sequence[Hasher], blocks: Sequence[Block]) -> None:
    for block in blocks:
        for hasher in hashers:
            hasher.update(block)


def _call_all(dones: Sequence[Done]) -> None:
    for done in dones:
        done()


class _Batch:
    """Blocks handed to the hashing thread together, and their ``done`` callbacks."""

    __slots__ = ("blocks", "dones", "size")

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.dones: list[Done] = []
        self.size = 0


class DoneWhenAll:
    """One ``done`` for a block handed on in several pieces: ``hold`` once per piece, and
    ``release`` once more after the last (the block's own hold)."""

    __slots__ = ("_done", "_held", "_lock")

    def __init__(self, done: Done) -> None:
        self._done = done
        self._held = 1
        self._lock = threading.Lock()

    def hold(self) -> Done:
        with self._lock:
            self._held += 1
        return self.release

    def release(self) -> None:
        with self._lock:
            self._held -= 1
            last = self._held == 0
        if last:
            self._done()


class BackgroundDigests:
    """Feed blocks to ``hashers`` on a pool thread, in order, up to ``MAX_PENDING``
    batches behind the caller.

    ``update(block)`` returns at once unless that many batches wait (then it waits for
    one to be hashed); blocks smaller than ``INLINE_BELOW`` are gathered into one batch
    of at least that size first. ``finish()`` waits for the batches handed over and
    hashes what is left in the caller's thread. Read the hashers only after
    ``finish()``. An error raised by a hasher surfaces from a later ``update`` or from
    ``finish()``.

    Several batches may wait so the hashing thread does not stop while the caller is
    held up for a moment (a direct write waiting for the disk, a body piece late): on
    two cores a digest of every byte is the slowest stage of an upload, and any pause
    of it is lost time.
    """

    def __init__(self, hashers: Sequence[Hasher]) -> None:
        self._hashers = tuple(hashers)
        self._batch = _Batch()
        self._waiting: deque[_Batch] = deque()
        self._running = False  # a pool thread is draining ``_waiting``
        self._error: BaseException | None = None
        self._changed = threading.Condition(threading.Lock())

    def update(self, block: Block, done: Done | None = None) -> None:
        """Hash ``block`` after those given before; ``done`` is called once it is read."""
        if not self._hashers:
            if done is not None:
                done()
            return
        batch = self._batch
        batch.blocks.append(block)
        batch.size += len(block)
        if done is not None:
            batch.dones.append(done)
        if batch.size >= INLINE_BELOW:
            self._batch = _Batch()
            self._hand_over(batch)

    def flush(self) -> None:
        """Hand the blocks gathered so far to the hashing thread (no more will follow
        them in this batch): ``finish`` then only waits."""
        if self._batch.blocks:
            batch, self._batch = self._batch, _Batch()
            self._hand_over(batch)

    def _hand_over(self, batch: _Batch) -> None:
        with self._changed:
            while len(self._waiting) >= MAX_PENDING and self._error is None:
                self._changed.wait()
            if self._error is not None:
                _call_all(batch.dones)  # never hashed: the blocks are free
                self._raise_error()
            self._waiting.append(batch)
            if self._running:
                return
            self._running = True
        _digest_pool().submit(self._drain)

    def _drain(self) -> None:
        """Hash the waiting batches in order until none is left (on a pool thread)."""
        while True:
            with self._changed:
                if not self._waiting or self._error is not None:
                    self._running = False
                    self._changed.notify_all()
                    return
                batch = self._waiting[0]
            try:
                _feed(self._hashers, batch.blocks)
            except BaseException as error:  # surfaced in the caller's thread
                with self._changed:
                    self._error = error
                    dropped = list(self._waiting)
                    self._waiting.clear()
                    self._running = False
                    self._changed.notify_all()
                for each in dropped:  # hashing stopped: nobody reads them any more
                    _call_all(each.dones)
                return
            with self._changed:
                self._waiting.popleft()
                self._changed.notify_all()
            _call_all(batch.dones)

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def finish(self) -> None:
        """Hash what is left and wait until every block given so far is hashed."""
        batch, self._batch = self._batch, _Batch()
        try:
            with self._changed:
                while self._running:
                    self._changed.wait()
                self._raise_error()
            _feed(self._hashers, batch.blocks)
        finally:
            _call_all(batch.dones)


def multipart_checksum(part_md5s: Sequence[bytes]) -> str:
    """The ETag S3 gives a multipart upload: the MD5 of its parts' MD5s, then ``-N``."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


class StreamDigest(Protocol):
    """A checksum of a stream, computed beside it: ``update`` with every block in order,
    then ``hexdigest`` once (it waits for the hashing to finish)."""

    def update(self, block: Block, done: Done | None = None) -> None: ...

    def hexdigest(self) -> str: ...


class Md5Digest:
    """The MD5 of a stream, hashed on a pool thread (``BackgroundDigests``)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._background = BackgroundDigests([self._md5])

    def update(self, block: Block, done: Done | None = None) -> None:
        self._background.update(block, done)

    def flush(self) -> None:
        """Hand the blocks gathered so far to the hashing thread (the stream has ended,
        or will not be read for a while)."""
        self._background.flush()

    def digest(self) -> bytes:
        """The MD5, once every block given is hashed (waits for that)."""
        self._background.finish()
        return self._md5.digest()

    def hexdigest(self) -> str:
        return self.digest().hex()


class PartDigests:
    """The checksum S3 gives the stream's bytes uploaded as boto3 uploads a file: their
    plain MD5 under ``part_bytes``, else ``multipart_checksum`` over parts of
    ``part_bytes`` (the last one shorter). Each part is hashed by its own
    ``Md5Digest``, so consecutive parts are hashed on different cores when the
    stream comes faster than one core hashes; at most ``MAX_OPEN_PARTS`` parts are
    unfinished at a time (starting another waits for the oldest).
    """

    def __init__(self, part_bytes: int = PART_BYTES) -> None:
        if part_bytes < 1:
            raise ValueError("part_bytes must be positive")
        self._part_bytes = part_bytes
        self._open: deque[Md5Digest] = deque()
        self._done: list[bytes] = []
        self._filled = part_bytes  # the current part is full: a new block starts one
        self._size = 0

    def update(self, block: Block, done: Done | None = None) -> None:
        # A block cut at a part boundary is read by two parts' digests: done after both.
        pieces = DoneWhenAll(done) if done is not None else None
        while block:
            if self._filled == self._part_bytes:
                self._start_part()
            take = min(len(block), self._part_bytes - self._filled)
            # Only a block that straddles a part boundary is cut (a copy of one block
            # per part, unless it is a memoryview).
            piece, block = (block, b"") if take == len(block) else (block[:take], block[take:])
            self._open[-1].update(piece, pieces.hold() if pieces is not None else None)
            self._filled += take
            self._size += take
            if self._filled == self._part_bytes:
                self._open[-1].flush()
        if pieces is not None:
            pieces.release()

    def _start_part(self) -> None:
        while len(self._open) >= MAX_OPEN_PARTS:
            self._finish_oldest()
        self._open.append(Md5Digest())
        self._filled = 0

    def _finish_oldest(self) -> None:
        self._done.append(self._open.popleft().digest())

    def hexdigest(self) -> str:
        while self._open:
            self._finish_oldest()
        if self._size < self._part_bytes:
            return self._done[0].hex() if self._done else hashlib.md5().hexdigest()
        return multipart_checksum(self._done)
