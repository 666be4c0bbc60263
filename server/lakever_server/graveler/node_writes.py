"""Tree-node writes in the background, made durable before any commit names them.

A commit writes a few nodes and a bulk build thousands; on a local disk each block
``put`` is a file write plus fsyncs, so written one after another they would dominate
every commit. ``BackgroundNodeWrites`` wraps the block store that the tree's
``BlockNodeStore`` writes through: each ``put`` starts at once on a small thread pool
(overlapping the tree's CPU work and each other's fsyncs) and ``flush`` waits for them.
Graveler flushes before it stores a commit record, so a commit never names a node that
is not stored: the ordering a crash needs is kept, only the waiting moves.

Reads of a node still in flight are served from memory. The number of nodes in flight
is bounded so a bulk build never holds more than a window of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from lakever_server.errors import LakeverError
from lakever_server.storage.block.base import BlockStat, BlockStore, PutResult

WRITERS = 8
MAX_IN_FLIGHT = 512


class NodeWriteFailed(LakeverError):
    """A tree node could not be stored during this operation (the store failed)."""


class BackgroundNodeWrites:
    """A ``BlockStore`` whose ``put`` runs in the background until ``flush``."""

    def __init__(self, block: BlockStore, writers: int = WRITERS) -> None:
        self.block = block
        self.schemes = block.schemes
        self._pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="node-write")
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[bytes, Future[PutResult]]] = {}
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.failures = 0
        """How many node puts have failed since creation (see ``Graveler._flush_nodes``)."""

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        data = b"".join(chunks)
        self._slots.acquire()
        with self._lock:
            future = self._pool.submit(self._store, address, data)
            self._pending[address] = (data, future)
        future.add_done_callback(lambda done: self._finished(address, done))
        # Nodes are named by their SHA-256; nobody reads a node put's MD5, so skip it.
        return PutResult(size=len(data), md5="")

    def _store(self, address: str, data: bytes) -> PutResult:
        try:
            return self.block.put(address, [data])
        except BaseException:
            with self._lock:  # counted before the future completes: see _flush_nodes
                self.failures += 1
            raise

    def _finished(self, address: str, future: Future[PutResult]) -> None:
        """Forget a stored node; keep a failed one so ``flush`` reports it."""
        self._slots.release()
        if future.exception() is None:
            with self._lock:
                if address in self._pending and self._pending[address][1] is future:
                    del self._pending[address]

    def flush(self) -> None:
        """Wait until every node put so far is stored; re-raise the first failure."""
        with self._lock:
            pending = list(self._pending.items())
        for address, (_, future) in pending:
            try:
                future.result()
            finally:
                with self._lock:
                    if address in self._pending and self._pending[address][1] is future:
                        del self._pending[address]

    def get(self, address: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self._lock:
            pending = self._pending.get(address)
        if pending is not None:
            yield pending[0][start:end]
            return
        yield from self.block.get(address, start, end)

    def exists(self, address: str) -> bool:
        with self._lock:
            if address in self._pending:
                return True
        return self.block.exists(address)

    # The rest is the wrapped store's (nodes are never listed, deleted or multipart).
    def stat(self, address: str) -> BlockStat:
        self.flush()
        return self.block.stat(address)

    def delete(self, address: str) -> None:
        self.flush()
        self.block.delete(address)

    def list_prefix(self, prefix: str) -> Iterator[BlockStat]:
        self.flush()
        return self.block.list_prefix(prefix)

    def create_multipart(self, address: str) -> str:
        return self.block.create_multipart(address)

    def upload_part(
        self, address: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> PutResult:
        return self.block.upload_part(address, upload_id, part_number, chunks)

    def complete_multipart(
        self, address: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        return self.block.complete_multipart(address, upload_id, parts)

    def abort_multipart(self, address: str, upload_id: str) -> None:
        self.block.abort_multipart(address, upload_id)
