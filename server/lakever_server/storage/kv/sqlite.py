"""The embedded metadata store: one SQLite file in WAL mode, one writer, many readers.

Why this shape:

- **WAL** lets readers run while a write is in progress, and ``synchronous=NORMAL`` is
  durable across process crashes (only an OS crash may lose the last commits, never
  corrupt the file), at a fraction of the cost of ``FULL``.
- **One writer.** SQLite admits one write transaction at a time per file. Writes from
  this process queue on a lock instead of spinning on ``SQLITE_BUSY``; conditional writes
  and batches open with ``BEGIN IMMEDIATE`` so the write lock is taken *before* reading,
  which keeps two processes sharing one file correct (a deferred transaction that reads
  and then upgrades could fail mid-way or act on a stale read). The busy timeout makes
  the second process wait for the first rather than fail.
- **Readers never wait for the writer**: each thread reads through its own connection,
  held for the thread's life, so a ``get`` costs one prepared statement.
- **Scans page** by key (``key > last``) in batches, fetching each batch completely, so
  no read transaction stays open across a caller's ``yield`` (an open reader would stop
  WAL checkpoints) and a partition of any size is never loaded at once.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from lakever_server.errors import PreconditionFailed, TooManyRequests
from lakever_server.storage.kv.base import paged_scan

SCAN_BATCH = 1000
"""Rows fetched per scan page."""

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write lock before failing."""

_WRITE_CHUNK = 10_000  # rows per executemany inside one batch transaction
_GET_MANY_CHUNK = 500  # bound parameters per IN (...) list, well under SQLite's limit

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv ("
    " partition TEXT NOT NULL,"
    " key BLOB NOT NULL,"
    " value BLOB NOT NULL,"
    " PRIMARY KEY (partition, key)"
    ") WITHOUT ROWID"
)
_GET = "SELECT value FROM kv WHERE partition = ? AND key = ?"
_UPSERT = (
    "INSERT INTO kv (partition, key, value) VALUES (?, ?, ?)"
    " ON CONFLICT (partition, key) DO UPDATE SET value = excluded.value"
)
_INSERT_NEW = (
    "INSERT INTO kv (partition, key, value) VALUES (?, ?, ?)"
    " ON CONFLICT (partition, key) DO NOTHING"
)
_UPDATE_IF = "UPDATE kv SET value = ? WHERE partition = ? AND key = ? AND value = ?"
_DELETE = "DELETE FROM kv WHERE partition = ? AND key = ?"
_DELETE_IF = "DELETE FROM kv WHERE partition = ? AND key = ? AND value = ?"
_DROP = "DELETE FROM kv WHERE partition = ?"
_SCAN_FROM = "SELECT key, value FROM kv WHERE partition = ? AND key >= ?"
_SCAN_AFTER = "SELECT key, value FROM kv WHERE partition = ? AND key > ?"


def _sqlite_engine(path: Path, busy_timeout: float) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=NullPool,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: this module issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return engine


class _Reader:
    """One thread's read connection; closed with the store or when the thread ends."""

    __slots__ = ("__weakref__", "close", "connection")

    def __init__(self, engine: Engine) -> None:
        fairy = engine.raw_connection()
        fairy.detach()  # owned here for the thread's life, not returned to a pool
        self.connection = cast(sqlite3.Connection, fairy.dbapi_connection)
        # Runs once: on ``close()``, or when the thread's locals (holding us) are freed.
        self.close = weakref.finalize(self, fairy.close)


class SQLiteKV:
    """A ``KVStore`` in one SQLite file; safe for many threads and several processes."""

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = _sqlite_engine(self.path, busy_timeout)
        self._write_lock = threading.Lock()
        self._writer_fairy = self._engine.raw_connection()
        self._writer = cast(sqlite3.Connection, self._writer_fairy.dbapi_connection)
        self._readers_lock = threading.Lock()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._local = threading.local()
        self._closed = False
        with self._write_lock:
            self._writer.cursor().execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteKV({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, opened on first use."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            if self._closed:
                raise RuntimeError("SQLiteKV is closed")
            reader = _Reader(self._engine)
            with self._readers_lock:
                self._readers.add(reader)
            self._local.reader = reader
        return reader.connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One ``BEGIN IMMEDIATE`` transaction on the single writer connection."""
        with self._write_lock:
            if self._closed:
                raise RuntimeError("SQLiteKV is closed")
            cursor: sqlite3.Cursor = self._writer.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                # Another process held the write lock for the whole busy timeout.
                raise TooManyRequests("the metadata store is busy; retry") from error
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    cursor.execute("ROLLBACK")
                raise

    # -- reads -----------------------------------------------------------------------

    def get(self, partition: str, key: bytes) -> bytes | None:
        row = self._reader().execute(_GET, (partition, key)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, partition: str, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        reader = self._reader()
        found: dict[bytes, bytes] = {}
        iterator = iter(keys)
        while chunk := list(islice(iterator, _GET_MANY_CHUNK)):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT key, value FROM kv WHERE partition = ? AND key IN ({marks})"
            found.update(reader.execute(sql, (partition, *chunk)).fetchall())
        return found

    def scan(
        self,
        partition: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        bound = "" if end is None else " AND key < ?"
        first_sql = f"{_SCAN_FROM}{bound} ORDER BY key LIMIT ?"
        next_sql = f"{_SCAN_AFTER}{bound} ORDER BY key LIMIT ?"
        tail: tuple[bytes, ...] = () if end is None else (end,)

        def fetch(cursor: bytes, inclusive: bool, size: int) -> list[tuple[bytes, bytes]]:
            sql = first_sql if inclusive else next_sql
            page: list[tuple[bytes, bytes]] = (
                self._reader().execute(sql, (partition, cursor, *tail, size)).fetchall()
            )
            return page

        return paged_scan(fetch, start, limit, SCAN_BATCH)

    # -- writes ----------------------------------------------------------------------

    def set(self, partition: str, key: bytes, value: bytes) -> None:
        with self._write() as cursor:
            cursor.execute(_UPSERT, (partition, key, value))

    def set_if(self, partition: str, key: bytes, value: bytes, expected: bytes | None) -> None:
        with self._write() as cursor:
            if expected is None:
                cursor.execute(_INSERT_NEW, (partition, key, value))
            else:
                cursor.execute(_UPDATE_IF, (value, partition, key, expected))
            changed = cursor.rowcount
        if changed != 1:
            raise PreconditionFailed("value changed concurrently")

    def delete(self, partition: str, key: bytes) -> None:
        with self._write() as cursor:
            cursor.execute(_DELETE, (partition, key))

    def delete_if(self, partition: str, key: bytes, expected: bytes) -> None:
        with self._write() as cursor:
            cursor.execute(_DELETE_IF, (partition, key, expected))
            changed = cursor.rowcount
        if changed != 1:
            raise PreconditionFailed("value changed concurrently")

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        with self._write() as cursor:
            # Deletes first, then sets: a key in both ends up set, as in every store.
            cursor.executemany(_DELETE, ((partition, key) for key in deletes))
            rows = ((partition, key, value) for key, value in sets)
            while chunk := list(islice(rows, _WRITE_CHUNK)):
                cursor.executemany(_UPSERT, chunk)

    def drop_partition(self, partition: str) -> None:
        with self._write() as cursor:
            cursor.execute(_DROP, (partition,))

    def close(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._writer_fairy.close()
        with self._readers_lock:
            readers = list(self._readers)
        for reader in readers:
            reader.close()
        self._engine.dispose()
