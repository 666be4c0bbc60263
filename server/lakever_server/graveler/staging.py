"""Uncommitted writes and deletes, one metadata partition per staging token.

A branch always has a current staging token; a commit *seals* it (a fresh token
becomes current) so writes that arrive during the commit land in the new token and are
never lost. Staged values are stored with a one-byte tag: ``\\x01`` + encoded value, or
``\\x00`` for a tombstone (a staged delete that hides the committed entry).
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence

from lakever_server.graveler.refs import staging_partition
from lakever_server.storage.kv.base import KVStore, prefix_end

log = logging.getLogger(__name__)

PUT = b"\x01"
TOMBSTONE = b"\x00"

# What a staged lookup returns: absent (not staged), a tombstone, or a value.
Staged = tuple[bool, bytes | None]
NOT_STAGED: Staged = (False, None)


def new_token() -> str:
    return uuid.uuid4().hex


def encode_staged(value: bytes | None) -> bytes:
    return TOMBSTONE if value is None else PUT + value


def decode_staged(raw: bytes) -> bytes | None:
    return None if raw[:1] == TOMBSTONE else raw[1:]


class StagingArea:
    """Read and write staged entries under tokens."""

    def __init__(self, kv: KVStore) -> None:
        self.kv = kv
        self._drops: queue.Queue[tuple[str, ...]] = queue.Queue()
        self._dropper: threading.Thread | None = None
        self._dropper_lock = threading.Lock()

    def get_raw(self, token: str, key: bytes) -> bytes | None:
        return self.kv.get(staging_partition(token), key)

    def lookup(self, tokens: Sequence[str], key: bytes) -> Staged:
        """The newest staged state of ``key`` across ``tokens`` (newest first)."""
        for token in tokens:
            raw = self.kv.get(staging_partition(token), key)
            if raw is not None:
                return True, decode_staged(raw)
        return NOT_STAGED

    def set(self, token: str, key: bytes, value: bytes | None) -> None:
        self.kv.set(staging_partition(token), key, encode_staged(value))

    def set_if(self, token: str, key: bytes, value: bytes | None, expected: bytes | None) -> None:
        """Stage only if the token's raw entry for ``key`` is still ``expected``."""
        self.kv.set_if(staging_partition(token), key, encode_staged(value), expected)

    def set_many(self, token: str, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        self.kv.write_batch(
            staging_partition(token), sets=((k, encode_staged(v)) for k, v in items)
        )

    def drop_key(self, tokens: Sequence[str], key: bytes) -> None:
        for token in tokens:
            self.kv.delete(staging_partition(token), key)

    def drop_prefix(self, tokens: Sequence[str], prefix: bytes) -> None:
        for token in tokens:
            partition = staging_partition(token)
            while True:
                keys = [
                    k for k, _ in self.kv.scan(partition, prefix, prefix_end(prefix), limit=1000)
                ]
                if not keys:
                    break
                self.kv.write_batch(partition, deletes=keys)

    def drop(self, tokens: Iterable[str]) -> None:
        for token in tokens:
            self.kv.drop_partition(staging_partition(token))

    def drop_later(self, tokens: Sequence[str]) -> None:
        """Drop committed tokens in the background, as lakeFS does.

        Nothing references them any more, so the caller need not wait; if the process
        dies first they stay as unreferenced partitions, which nothing reads.
        """
        with self._dropper_lock:
            if self._dropper is None or not self._dropper.is_alive():
                self._dropper = threading.Thread(
                    target=self._drop_forever, name="staging-drop", daemon=True
                )
                self._dropper.start()
        self._drops.put(tuple(tokens))

    def wait_for_drops(self) -> None:
        """Block until every background drop queued so far is done."""
        self._drops.join()

    def _drop_forever(self) -> None:
        while True:
            tokens = self._drops.get()
            try:
                self.drop(tokens)
            except Exception:  # the store may be closing; the partitions stay orphaned
                log.debug("background drop of staging tokens %s failed", tokens, exc_info=True)
            finally:
                self._drops.task_done()

    def is_empty(self, tokens: Sequence[str]) -> bool:
        return not any(
            next(iter(self.kv.scan(staging_partition(t), limit=1)), None) for t in tokens
        )

    def scan(
        self, token: str, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes | None]]:
        for key, raw in self.kv.scan(staging_partition(token), start, end):
            yield key, decode_staged(raw)

    def changes(
        self, tokens: Sequence[str], start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes | None]]:
        """Sorted, unique staged changes across tokens; the newest token wins a key."""
        return merge_newest_first([self.scan(t, start, end) for t in tokens])


def merge_newest_first(
    sources: Sequence[Iterable[tuple[bytes, bytes | None]]],
) -> Iterator[tuple[bytes, bytes | None]]:
    """Merge sorted ``(key, value)`` streams into one; for equal keys the earliest
    source in ``sources`` wins. Streams are read lazily, one item ahead each."""
    if len(sources) == 1:
        yield from sources[0]
        return
    iterators = [iter(s) for s in sources]
    heap: list[tuple[bytes, int, bytes | None]] = []
    for rank, it in enumerate(iterators):
        first = next(it, None)
        if first is not None:
            heap.append((first[0], rank, first[1]))
    heapq.heapify(heap)
    while heap:
        key, rank, value = heap[0]
        yield key, value
        if len(heap) == 1:  # one stream left (a clean branch's tree): no more merging
            yield from iterators[rank]
            return
        # Advance every stream positioned at this key (the winner and the shadowed).
        while heap and heap[0][0] == key:
            _, r, _ = heapq.heappop(heap)
            following = next(iterators[r], None)
            if following is not None:
                heapq.heappush(heap, (following[0], r, following[1]))
