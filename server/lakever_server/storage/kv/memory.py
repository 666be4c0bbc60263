"""An in-memory ``KVStore`` for tests and single-process tools."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator

from lakever_server.errors import PreconditionFailed


class MemoryKV:
    """Sorted lists per partition behind one lock; linearizable like the real stores."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._keys: dict[str, list[bytes]] = {}
        self._values: dict[str, dict[bytes, bytes]] = {}

    def _put(self, partition: str, key: bytes, value: bytes) -> None:
        values = self._values.setdefault(partition, {})
        if key not in values:
            bisect.insort(self._keys.setdefault(partition, []), key)
        values[key] = value

    def _remove(self, partition: str, key: bytes) -> None:
        values = self._values.get(partition, {})
        if key in values:
            del values[key]
            keys = self._keys[partition]
            del keys[bisect.bisect_left(keys, key)]

    def get(self, partition: str, key: bytes) -> bytes | None:
        with self._lock:
            return self._values.get(partition, {}).get(key)

    def get_many(self, partition: str, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        with self._lock:
            values = self._values.get(partition, {})
            return {k: values[k] for k in keys if k in values}

    def set(self, partition: str, key: bytes, value: bytes) -> None:
        with self._lock:
            self._put(partition, key, value)

    def set_if(self, partition: str, key: bytes, value: bytes, expected: bytes | None) -> None:
        with self._lock:
            if self._values.get(partition, {}).get(key) != expected:
                raise PreconditionFailed("value changed concurrently")
            self._put(partition, key, value)

    def delete(self, partition: str, key: bytes) -> None:
        with self._lock:
            self._remove(partition, key)

    def delete_if(self, partition: str, key: bytes, expected: bytes) -> None:
        with self._lock:
            if self._values.get(partition, {}).get(key) != expected:
                raise PreconditionFailed("value changed concurrently")
            self._remove(partition, key)

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        # Drain the iterables before touching anything: a failing producer must leave the
        # store unchanged (all or none), as a rolled-back transaction does.
        doomed, pairs = list(deletes), list(sets)
        with self._lock:
            for key in doomed:
                self._remove(partition, key)
            for key, value in pairs:
                self._put(partition, key, value)

    def scan(
        self,
        partition: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        # Snapshot one batch at a time under the lock, like the SQL stores' paged scans.
        cursor, inclusive, yielded = start, True, 0
        while limit is None or yielded < limit:
            with self._lock:
                keys = self._keys.get(partition, [])
                values = self._values.get(partition, {})
                find = bisect.bisect_left if inclusive else bisect.bisect_right
                at = find(keys, cursor)
                batch = [(k, values[k]) for k in keys[at : at + 1000] if end is None or k < end]
            if not batch:
                return
            for item in batch:
                if limit is not None and yielded >= limit:
                    return
                yield item
                yielded += 1
            cursor, inclusive = batch[-1][0], False

    def drop_partition(self, partition: str) -> None:
        with self._lock:
            self._keys.pop(partition, None)
            self._values.pop(partition, None)

    def close(self) -> None:
        return None
