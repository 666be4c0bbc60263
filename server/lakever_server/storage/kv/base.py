"""The key/value interface every metadata store implements.

Keys and values are bytes; keys sort bytewise (memcmp), within a partition. A partition
is a namespace (e.g. one repository's refs, or one staging token), listed and dropped
as a unit. Writes to one key are linearizable; ``set_if`` is the only way to change a
value that others may change concurrently (branch heads), as lakeFS's ``SetIf`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol


class KVStore(Protocol):
    """An ordered, partitioned key/value store with compare-and-set."""

    def get(self, partition: str, key: bytes) -> bytes | None:
        """Return the value at ``key``, or ``None`` when absent."""
        ...

    def get_many(self, partition: str, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """Return the values of those ``keys`` that exist, in one round trip."""
        ...

    def set(self, partition: str, key: bytes, value: bytes) -> None:
        """Write ``value`` at ``key`` unconditionally."""
        ...

    def set_if(self, partition: str, key: bytes, value: bytes, expected: bytes | None) -> None:
        """Write ``value`` only if the current value equals ``expected``.

        ``expected=None`` means the key must not exist. Raises
        ``errors.PreconditionFailed`` when the current value differs.
        """
        ...

    def delete(self, partition: str, key: bytes) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    def delete_if(self, partition: str, key: bytes, expected: bytes) -> None:
        """Remove ``key`` only if its value equals ``expected``, else ``PreconditionFailed``."""
        ...

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        """Apply many unconditional writes and deletes atomically (all or none)."""
        ...

    def scan(
        self,
        partition: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` with ``start <= key < end`` in key order.

        Implementations fetch in bounded batches, so a scan of a million keys never holds
        them all in memory, and a caller that stops early reads little.
        """
        ...

    def drop_partition(self, partition: str) -> None:
        """Remove every key of ``partition``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with ``prefix``.

    ``None`` when no such key exists (the prefix is empty or all 0xff), meaning "no bound".
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


PageFetch = Callable[[bytes, bool, int], list[tuple[bytes, bytes]]]
"""``fetch(cursor, inclusive, size)``: up to ``size`` pairs in key order, keys from
``cursor`` (``>=`` when ``inclusive``, else ``>``), within the scan's end bound."""


FIRST_PAGE = 16
"""Rows the first page of a ``paged_scan`` fetches; each next page is four times as
large, up to the store's batch. Many scans stop after a row or two (is anything below
this prefix? what comes first?): a first page of a full batch made each of those read,
decode and drop up to a batch of rows."""


def paged_scan(
    fetch: PageFetch, start: bytes, limit: int | None, batch: int
) -> Iterator[tuple[bytes, bytes]]:
    """Drive a ``scan`` one bounded page at a time, so no page stays open between reads and
    a caller that stops early reads little: pages start at ``FIRST_PAGE`` rows and grow
    fourfold up to ``batch`` (a long scan costs a few more round trips, then full pages).
    Shared by the SQL stores."""
    cursor, inclusive, remaining = start, True, limit
    grow = min(FIRST_PAGE, batch)
    while remaining is None or remaining > 0:
        size = grow if remaining is None else min(grow, remaining)
        grow = min(grow * 4, batch)
        page = fetch(cursor, inclusive, size)
        yield from page
        if len(page) < size:
            return
        if remaining is not None:
            remaining -= len(page)
        cursor, inclusive = page[-1][0], False
