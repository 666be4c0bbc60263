"""Digests computed beside a stream instead of in its way.

Every large upload is hashed several times (MD5 for the ETag; the client's SHA-256 and
CRC checksums) and written to disk. Each of those runs in C with the GIL released, so on
two cores they can run at the same time. ``BackgroundDigests`` feeds each block to its
hashers on a worker thread while the caller goes on with the block (writing it, hashing
it otherwise, receiving the next one); it stays at most one block behind, in order, so
memory stays bounded and the digests are exactly those of the stream.

Small blocks are hashed inline: handing them to a thread would cost more than hashing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

INLINE_BELOW = 256 * 1024
"""Blocks smaller than this are hashed in the caller's thread."""

POOL_THREADS = 8


class Hasher(Protocol):
    """What ``hashlib`` objects and the CRC wrappers offer."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _digest_pool() -> ThreadPoolExecutor:
    """The process-wide pool that hashes blocks (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="lakever-digest")
        return _pool


def _feed(hashers: Sequence[Hasher], block: bytes) -> None:
    for hasher in hashers:
        hasher.update(block)


class BackgroundDigests:
    """Feed blocks to ``hashers`` one block behind the caller, in order.

    ``update(block)`` returns at once for a large block (after the previous block's
    hashing finished); ``finish()`` waits for the last one. Read the hashers only after
    ``finish()``. An error raised by a hasher surfaces from the next call.
    """

    def __init__(self, hashers: Sequence[Hasher]) -> None:
        self._hashers = tuple(hashers)
        self._pending: Future[None] | None = None

    def update(self, block: bytes) -> None:
        if not self._hashers:
            return
        self._wait()
        if len(block) < INLINE_BELOW:
            _feed(self._hashers, block)
        else:
            self._pending = _digest_pool().submit(_feed, self._hashers, block)

    def finish(self) -> None:
        """Wait until every block given so far is hashed."""
        self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
