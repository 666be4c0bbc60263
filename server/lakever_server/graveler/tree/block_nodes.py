"""``BlockNodeStore``: tree nodes as blobs in a repository's block store.

Reads go through a shared cache of decoded nodes. Writes can run in parallel: on a
durable store each put waits for the disk or the network (the local store fsyncs every
blob), and a commit writes one node per level per changed path, so writing them one
after the other would make a commit cost the sum of those waits. Puts are handed to a
shared thread pool and ``flush`` (called by ``Tree`` before it returns a root) waits for
them, so a root id is never handed out before its nodes are stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any

from lakever_server.errors import NotFound
from lakever_server.graveler.tree.cache import NodeCache
from lakever_server.graveler.tree.codec import (
    EMPTY_DATA,
    EMPTY_ID,
    EMPTY_LEAF,
    Node,
    approximate_memory,
)
from lakever_server.graveler.tree.codec import node_id as hash_id
from lakever_server.graveler.tree.nodes import checked_decode, patch_problem
from lakever_server.storage.block.base import BatchSyncedStore, BlockStore
from lakever_server.storage.pools import SharedPool

DEFAULT_WRITE_CONCURRENCY = 16

_write_pool = SharedPool(DEFAULT_WRITE_CONCURRENCY, "lakever-node-write")
"""The process-wide pool that runs node puts."""


class BlockNodeStore:
    """Nodes as blobs in a block store, under a repository's storage namespace.

    A node lives at ``{namespace}/_lakever/nodes/{id[:2]}/{id}``. Reads go through the
    shared ``NodeCache`` of decoded nodes; a node found in the cache is known to be
    stored already (or being stored), so writing it again is skipped.

    Args:
        block: the block store of the repository.
        namespace: the repository's storage namespace (``mem://...``, ``local://...``).
        cache: the decoded-node cache, usually one per process.
        write_concurrency: how many puts a thread may have in flight; 1 writes in the
            caller's thread. Default: 1 for in-memory stores (nothing to wait for), else
            ``DEFAULT_WRITE_CONCURRENCY``.
    """

    def __init__(
        self,
        block: BlockStore,
        namespace: str,
        cache: NodeCache,
        *,
        write_concurrency: int | None = None,
    ) -> None:
        self.block = block
        self.namespace = namespace.rstrip("/")
        self.cache = cache
        if write_concurrency is None:
            in_memory = "mem" in getattr(block, "schemes", ())
            write_concurrency = 1 if in_memory else DEFAULT_WRITE_CONCURRENCY
        self.write_concurrency = write_concurrency
        self._lock = threading.Lock()
        self._in_flight: dict[str, tuple[Future[Any], bytes]] = {}
        self._mine = threading.local()  # each thread's unflushed puts
        # A store that syncs in batches gets nodes written unsynced (in the pool, where
        # file creation waits overlap) and one ``sync`` per flush, not one per node.
        self._batched = block if isinstance(block, BatchSyncedStore) else None
        # Written (by any thread) and not yet synced. A flush syncs all of them, so a
        # node this thread found cached but another thread wrote is durable too.
        self._unsynced: set[str] = set()
        self._sync_lock = threading.Lock()

    def address(self, node_id: str) -> str:
        """The block address of a node."""
        return f"{self.namespace}/_lakever/nodes/{node_id[:2]}/{node_id}"

    def get(self, node_id: str) -> bytes:
        if node_id == EMPTY_ID:
            return EMPTY_DATA
        address = self.address(node_id)
        with self._lock:
            in_flight = self._in_flight.get(address)
        if in_flight is not None:
            return in_flight[1]
        try:
            return b"".join(self.block.get(address))
        except NotFound:
            raise NotFound(f"tree node {node_id} not found", kind="node", name=node_id) from None

    def check_stored(self, node_id: str) -> str | None:
        """What is wrong with the stored blob of ``node_id`` (never the cache), or None."""
        if node_id == EMPTY_ID:
            return None
        try:
            data = b"".join(self.block.get(self.address(node_id)))
        except NotFound:
            return f"tree node {node_id} not found"
        if hash_id(data) != node_id:
            return f"tree node {node_id} does not match its hash"
        return patch_problem(node_id, data, lambda nid: b"".join(self.block.get(self.address(nid))))

    def put(self, node_id: str, data: bytes) -> None:
        node = checked_decode(data, node_id, self.load_node)
        self.save_node(node_id, node, data)
        self.flush()

    def load_node(self, node_id: str) -> Node:
        if node_id == EMPTY_ID:
            return EMPTY_LEAF
        address = self.address(node_id)
        node = self.cache.get(address)
        if node is None:
            data = self.get(node_id)
            node = checked_decode(data, node_id, self.load_node)
            self.cache.add(address, node, approximate_memory(node, len(data)))
        return node

    def demote(self, node_ids: Iterable[str]) -> None:
        self.cache.demote(self.address(nid) for nid in node_ids)

    def _pending(self) -> list[tuple[str, Future[Any]]]:
        pending: list[tuple[str, Future[Any]]] | None = getattr(self._mine, "pending", None)
        if pending is None:
            pending = self._mine.pending = []
        return pending

    def _put(self, address: str, data: bytes) -> None:
        """Store one node: unsynced on batch-synced stores (``flush`` syncs it)."""
        if self._batched is None:
            self.block.put(address, [data])
            return
        self._batched.put_unsynced(address, data)
        with self._lock:
            self._unsynced.add(address)

    def _sync(self, batched: BatchSyncedStore) -> None:
        """Sync every node written so far; on failure keep them for the next flush."""
        with self._sync_lock:  # a flush returns only once earlier writes are synced
            with self._lock:
                written, self._unsynced = list(self._unsynced), set()
            if not written:
                return
            try:
                batched.sync(written)
            except BaseException:
                with self._lock:
                    self._unsynced.update(written)
                raise

    def save_node(self, node_id: str, node: Node, data: bytes) -> str:
        address = self.address(node_id)
        with self._lock:
            in_flight = self._in_flight.get(address)
            if in_flight is None and address in self.cache:
                return node_id
            if in_flight is None and self.write_concurrency > 1:
                future = _write_pool().submit(self._put, address, data)
                self._in_flight[address] = (future, data)
                in_flight = (future, data)
        if in_flight is not None:
            # Written by a pool thread (perhaps for another caller): flush waits for it.
            pending = self._pending()
            pending.append((address, in_flight[0]))
            self.cache.add(address, node, approximate_memory(node, len(data)))
            if len(pending) > 2 * self.write_concurrency:
                self._wait(len(pending) - self.write_concurrency)
            return node_id
        self._put(address, data)
        self.cache.add(address, node, approximate_memory(node, len(data)))
        return node_id

    def _wait(self, count: int) -> None:
        """Wait for this thread's ``count`` oldest puts; raise the first failure."""
        pending = self._pending()
        done, pending[:count] = pending[:count], []
        failure: BaseException | None = None
        for address, future in done:
            error = future.exception()
            if error is not None:
                # Uncache before the in-flight entry goes: in between, another thread's
                # save must see either the failed write (and report it) or no node at
                # all (and write it), never a cached node that was not stored.
                self.cache.discard(address)
                failure = failure or error
            with self._lock:
                if self._in_flight.get(address, (None,))[0] is future:
                    del self._in_flight[address]
        if failure is not None:
            raise failure

    def flush(self, root: str = "") -> None:
        self._wait(len(self._pending()))
        if self._batched is not None:
            self._sync(self._batched)
