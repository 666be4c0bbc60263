"""Digests computed beside a stream instead of in its way.

Every large upload is hashed several times (MD5 for the ETag; the client's SHA-256 and
CRC checksums) and written to disk. Each of those runs in C with the GIL released, so on
two cores they can run at the same time. ``BackgroundDigests`` feeds each block to its
hashers on a worker thread while the caller goes on with the block (writing it, hashing
it otherwise, receiving the next one); it stays at most one block behind, in order, so
memory stays bounded and the digests are exactly those of the stream.

Small blocks are gathered first (a small upload is hashed inline at the end): handing
each to a thread would cost more than hashing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from lakever_server.storage.pools import SharedPool

INLINE_BELOW = 256 * 1024
"""Blocks are handed to a thread in batches of at least this many bytes; fewer left at
the end are hashed in the caller's thread."""

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
    """Feed blocks to ``hashers`` one batch behind the caller, in order.

    ``update(block)`` returns at once (after the previous batch's hashing finished, if a
    new batch is due); blocks smaller than ``INLINE_BELOW`` are gathered into one batch
    of at least that size first. ``finish()`` hashes what is left and waits. Read the
    hashers only after ``finish()``. An error raised by a hasher surfaces from the next
    call.
    """

    def __init__(self, hashers: Sequence[Hasher]) -> None:
        self._hashers = tuple(hashers)
        self._pending: Future[None] | None = None
        self._batch: list[bytes] = []
        self._batched = 0

    def update(self, block: bytes) -> None:
        if not self._hashers:
            return
        self._batch.append(block)
        self._batched += len(block)
        if self._batched >= INLINE_BELOW:
            self._wait()
            batch, self._batch, self._batched = self._batch, [], 0
            self._pending = _digest_pool().submit(_feed, self._hashers, batch)

    def finish(self) -> None:
        """Hash what is left and wait until every block given so far is hashed."""
        self._wait()
        batch, self._batch, self._batched = self._batch, [], 0
        _feed(self._hashers, batch)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
