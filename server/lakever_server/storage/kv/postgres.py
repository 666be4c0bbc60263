"""The production metadata store: PostgreSQL through psycopg 3, shared by many servers.

Several stateless server processes share one database, so every conditional write is a
single statement whose ``WHERE`` clause is the condition: PostgreSQL's row lock plus its
re-check of the ``WHERE`` on the newest row version makes exactly one of many concurrent
``set_if`` calls win, in one round trip and without explicit locking. Keys are ``BYTEA``,
which PostgreSQL compares bytewise, the order every store promises.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url

from lakever_server.errors import InvalidValue, PreconditionFailed
from lakever_server.storage.kv.base import paged_scan

SCAN_BATCH = 1000
"""Rows fetched per scan page."""

_WRITE_CHUNK = 10_000  # rows per executemany inside one batch transaction

_GET = "SELECT value FROM kv WHERE partition = %s AND key = %s"
_GET_MANY = "SELECT key, value FROM kv WHERE partition = %s AND key = ANY(%b)"
_UPSERT = (
    "INSERT INTO kv (partition, key, value) VALUES (%s, %s, %s)"
    " ON CONFLICT (partition, key) DO UPDATE SET value = EXCLUDED.value"
)
# A whole chunk in one statement, one round trip. The arrays travel in binary (%b):
# psycopg dumps a list of bytes as a text array ~7x slower.
_UPSERT_ARRAYS = (
    "INSERT INTO kv (partition, key, value)"
    " SELECT %s, k, v FROM unnest(%b::bytea[], %b::bytea[]) AS t(k, v)"
    " ON CONFLICT (partition, key) DO UPDATE SET value = EXCLUDED.value"
)
_INSERT_NEW = (
    "INSERT INTO kv (partition, key, value) VALUES (%s, %s, %s)"
    " ON CONFLICT (partition, key) DO NOTHING"
)
# A conditional update, not an upsert: an absent key must fail, not be created.
_UPDATE_IF = "UPDATE kv SET value = %s WHERE partition = %s AND key = %s AND value = %s"
_DELETE = "DELETE FROM kv WHERE partition = %s AND key = %s"
_DELETE_MANY = "DELETE FROM kv WHERE partition = %s AND key = ANY(%b)"
_DELETE_IF = "DELETE FROM kv WHERE partition = %s AND key = %s AND value = %s"
_DROP = "DELETE FROM kv WHERE partition = %s"


def create_schema(connection: Connection) -> None:
    """The whole schema, idempotent; the one place to change until migrations exist."""
    connection.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS kv ("
        " partition TEXT NOT NULL,"
        " key BYTEA NOT NULL,"
        " value BYTEA NOT NULL,"
        " PRIMARY KEY (partition, key)"
        ")"
    )


def _prefer_key_order(dbapi_connection: Any, _record: Any) -> None:
    """Steer the planner to walk the primary key in order on every connection.

    Right after a bulk load, before autovacuum has analyzed the table, PostgreSQL
    underestimates a partition's size and answers a scan page by bitmap-scanning the
    whole rest of the partition and sorting it (tens of ms per 1,000-row page instead
    of a fraction of one). Every query here is a primary-key lookup or range, for which
    an ordered index scan is the right plan whatever the statistics say.
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET enable_bitmapscan = off")
        cursor.execute("SET enable_seqscan = off")
    dbapi_connection.commit()


def engine_url(url: str) -> str:
    """Normalize ``postgres://``/``postgresql://`` URLs to the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise InvalidValue("expected a postgresql:// URL", field="url")
    return f"postgresql+psycopg://{rest}"


class PostgresKV:
    """A ``KVStore`` in one PostgreSQL table, over a connection pool."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> None:
        self._engine: Engine = create_engine(
            engine_url(url), pool_size=pool_size, max_overflow=max_overflow
        )
        event.listen(self._engine, "connect", _prefer_key_order)
        # Single statements run in autocommit: each is atomic on its own, and skipping
        # BEGIN/COMMIT saves two round trips per call. ``write_batch`` uses a transaction.
        self._auto: Engine = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        with self._engine.begin() as connection:
            create_schema(connection)

    def __repr__(self) -> str:
        # Never the password: render_as_string hides it by default.
        return f"PostgresKV({make_url(str(self._engine.url)).render_as_string()!r})"

    def _rowcount(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._auto.connect() as connection:
            return connection.exec_driver_sql(sql, params).rowcount

    # -- reads -----------------------------------------------------------------------

    def get(self, partition: str, key: bytes) -> bytes | None:
        with self._auto.connect() as connection:
            row = connection.exec_driver_sql(_GET, (partition, key)).first()
        return None if row is None else bytes(row[0])

    def get_many(self, partition: str, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        wanted = list(keys)
        if not wanted:
            return {}
        with self._auto.connect() as connection:
            rows = connection.exec_driver_sql(_GET_MANY, (partition, wanted)).all()
        return {bytes(k): bytes(v) for k, v in rows}

    def scan(
        self,
        partition: str,
        start: bytes = b"",
        end: bytes | None = None,
        *,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        bound = "" if end is None else " AND key < %s"
        tail: tuple[bytes, ...] = () if end is None else (end,)

        def fetch(cursor: bytes, inclusive: bool, size: int) -> list[tuple[bytes, bytes]]:
            op = ">=" if inclusive else ">"
            sql = f"SELECT key, value FROM kv WHERE partition = %s AND key {op} %s{bound}"
            # One short statement per page: no transaction stays open between pages.
            with self._auto.connect() as connection:
                rows = connection.exec_driver_sql(
                    f"{sql} ORDER BY key LIMIT %s", (partition, cursor, *tail, size)
                ).all()
            return [(bytes(k), bytes(v)) for k, v in rows]

        return paged_scan(fetch, start, limit, SCAN_BATCH)

    # -- writes ----------------------------------------------------------------------

    def set(self, partition: str, key: bytes, value: bytes) -> None:
        self._rowcount(_UPSERT, (partition, key, value))

    def set_if(self, partition: str, key: bytes, value: bytes, expected: bytes | None) -> None:
        if expected is None:
            changed = self._rowcount(_INSERT_NEW, (partition, key, value))
        else:
            changed = self._rowcount(_UPDATE_IF, (value, partition, key, expected))
        if changed != 1:
            raise PreconditionFailed("value changed concurrently")

    def delete(self, partition: str, key: bytes) -> None:
        self._rowcount(_DELETE, (partition, key))

    def delete_if(self, partition: str, key: bytes, expected: bytes) -> None:
        if self._rowcount(_DELETE_IF, (partition, key, expected)) != 1:
            raise PreconditionFailed("value changed concurrently")

    def write_batch(
        self,
        partition: str,
        sets: Iterable[tuple[bytes, bytes]] = (),
        deletes: Iterable[bytes] = (),
    ) -> None:
        with self._engine.begin() as connection:
            # Deletes first, then sets: a key in both ends up set, as in every store.
            doomed = iter(deletes)
            while gone := list(islice(doomed, _WRITE_CHUNK)):
                connection.exec_driver_sql(_DELETE_MANY, (partition, gone))
            pairs = iter(sets)
            while chunk := list(islice(pairs, _WRITE_CHUNK)):
                # One statement may not touch a row twice, so the last write of a key
                # within the chunk wins here, as it would applied one by one.
                latest = dict(chunk)
                keys, values = list(latest), list(latest.values())
                connection.exec_driver_sql(_UPSERT_ARRAYS, (partition, keys, values))

    def drop_partition(self, partition: str) -> None:
        self._rowcount(_DROP, (partition,))

    def close(self) -> None:
        self._engine.dispose()
