"""Digests computed beside a stream instead of in its way.

Every large upload is hashed several times (MD5 for the ETag; the client's SHA-256 and
CRC checksums) and written to disk. Each of those runs in C with the GIL released, so on
two cores they can run at the same time. ``BackgroundDigests`` feeds each block to its
hashers on a worker thread while the caller goes on with the block (writing it, hashing
it otherwise, receiving the next one); it stays at most a few batches behind, in order,
so memory stays bounded and the digests are exactly those of the stream.

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
from collections.abc import Sequence
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


class Hasher(Protocol):
    """What ``hashlib`` objects and the CRC wrappers offer."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


_digest_pool = SharedPool(POOL_THREADS, "lakever-digest")
"""The process-wide pool that hashes blocks."""


def _feed(hashers: Sequence[Hasher], blocks: Sequence[bytes]) -> None:
    for block in blocks:
        for hasher in hashers:
            hasher.update(block)


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
        self._batch: list[bytes] = []
        self._batched = 0
        self._waiting: deque[list[bytes]] = deque()
        self._running = False  # a pool thread is draining ``_waiting``
        self._error: BaseException | None = None
        self._changed = threading.Condition(threading.Lock())

    def update(self, block: bytes) -> None:
        if not self._hashers:
            return
        self._batch.append(block)
        self._batched += len(block)
        if self._batched >= INLINE_BELOW:
            batch, self._batch, self._batched = self._batch, [], 0
            self._hand_over(batch)

    def flush(self) -> None:
        """Hand the blocks gathered so far to the hashing thread (no more will follow
        them in this batch): ``finish`` then only waits."""
        if self._batch:
            batch, self._batch, self._batched = self._batch, [], 0
            self._hand_over(batch)

    def _hand_over(self, batch: list[bytes]) -> None:
        with self._changed:
            while len(self._waiting) >= MAX_PENDING and self._error is None:
                self._changed.wait()
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
                _feed(self._hashers, batch)
            except BaseException as error:  # surfaced in the caller's thread
                with self._changed:
                    self._error = error
                    self._waiting.clear()
                    self._running = False
                    self._changed.notify_all()
                return
            with self._changed:
                self._waiting.popleft()
                self._changed.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def finish(self) -> None:
        """Hash what is left and wait until every block given so far is hashed."""
        with self._changed:
            while self._running:
                self._changed.wait()
            self._raise_error()
        batch, self._batch, self._batched = self._batch, [], 0
        _feed(self._hashers, batch)


def multipart_checksum(part_md5s: Sequence[bytes]) -> str:
    """The ETag S3 gives a multipart upload: the MD5 of its parts' MD5s, then ``-N``."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


class StreamDigest(Protocol):
    """A checksum of a stream, computed beside it: ``update`` with every block in order,
    then ``hexdigest`` once (it waits for the hashing to finish)."""

    def update(self, block: bytes) -> None: ...

    def hexdigest(self) -> str: ...


class Md5Digest:
    """The MD5 of a stream, hashed on a pool thread (``BackgroundDigests``)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._background = BackgroundDigests([self._md5])

    def update(self, block: bytes) -> None:
        self._background.update(block)

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

    def update(self, block: bytes) -> None:
        while block:
            if self._filled == self._part_bytes:
                self._start_part()
            take = min(len(block), self._part_bytes - self._filled)
            # Only a block that straddles a part boundary is cut (a copy of one block
            # per part).
            piece, block = (block, b"") if take == len(block) else (block[:take], block[take:])
            self._open[-1].update(piece)
            self._filled += take
            self._size += take
            if self._filled == self._part_bytes:
                self._open[-1].flush()

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
