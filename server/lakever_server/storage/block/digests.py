"""Digests computed beside a stream instead of in its way.

Every large upload is hashed several times (MD5 for the ETag; the client's SHA-256 and
CRC checksums) and written to disk. Each of those runs in C with the GIL released, so on
two cores they can run at the same time. ``BackgroundDigests`` feeds each block to its
hashers on a worker thread while the caller goes on with the block (writing it, hashing
it otherwise, receiving the next one); it stays at most a few batches behind, in order,
so memory stays bounded and the digests are exactly those of the stream.

Small blocks are gathered first (a small upload is hashed inline at the end): handing
each to a thread would cost more than hashing it.
"""

from __future__ import annotations

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
