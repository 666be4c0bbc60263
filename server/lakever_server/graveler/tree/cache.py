"""A shared LRU cache of decoded tree nodes, bounded by (approximate) memory.

Nodes are immutable and named by the hash of their content, so a cached node is never
stale and the cache is never invalidated. One cache can serve every repository: entries
are keyed by the node's full storage address, so one namespace's nodes never answer
for another's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from lakever_server.graveler.tree.codec import Node

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


class NodeCache:
    """Thread-safe LRU of decoded nodes, bounded by total size in bytes.

    ``hits``, ``misses``, ``evictions`` and ``demotions`` count lookups, removals and
    ``demote`` moves since creation
    (read them for metrics); ``size_bytes`` is the current charged size.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.demotions = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Node, int]] = OrderedDict()

    def get(self, key: str) -> Node | None:
        """The cached node under ``key`` (marked recently used), counting a hit or miss."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is cached; neither a hit nor a miss, nor a use."""
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def add(self, key: str, node: Node, size: int) -> None:
        """Cache ``node`` under ``key``, charged ``size`` bytes; evict the oldest to fit."""
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size_bytes -= old[1]
            self._entries[key] = (node, size)
            self.size_bytes += size
            while self.size_bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.size_bytes -= evicted
                self.evictions += 1

    def demote(self, keys: Iterable[str]) -> None:
        """Make the cached ones of ``keys`` the next to be evicted (not a use).

        For nodes a write has just replaced: the branch it wrote reads their new
        versions from now on, and a superseded version read last (the write itself read
        it) would otherwise outlive live nodes that were read before it.
        """
        with self._lock:
            entries = self._entries
            for key in keys:
                if key in entries:
                    entries.move_to_end(key, last=False)
                    self.demotions += 1

    def discard(self, key: str) -> None:
        """Forget ``key`` if cached."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.size_bytes -= entry[1]

    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        with self._lock:
            self._entries.clear()
            self.size_bytes = 0
