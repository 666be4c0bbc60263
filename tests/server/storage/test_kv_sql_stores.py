"""What the SQL stores add to the contract: SQLite's WAL and readers, URL forms, reprs."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from lakever_server.errors import InvalidValue, TooManyRequests
from lakever_server.storage.kv import open_kv
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.storage.kv.postgres import PostgresKV
from lakever_server.storage.kv.sqlite import SQLiteKV


def test_the_file_is_in_wal_mode_with_one_without_rowid_table(tmp_path: Path) -> None:
    SQLiteKV(tmp_path / "kv.db").close()
    with sqlite3.connect(tmp_path / "kv.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'kv'").fetchone()
    assert "WITHOUT ROWID" in sql


def test_writes_survive_closing_and_reopening(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db")
    kv.write_batch("p", [(b"a", b"1"), (b"b", b"2")])
    kv.set_if("p", b"head", b"c1", None)
    kv.close()
    reopened = SQLiteKV(tmp_path / "kv.db")
    try:
        assert list(reopened.scan("p")) == [(b"a", b"1"), (b"b", b"2"), (b"head", b"c1")]
    finally:
        reopened.close()


def test_reads_do_not_wait_for_another_processs_open_write(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db")
    kv.set("p", b"k", b"committed")
    other = sqlite3.connect(tmp_path / "kv.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock, like a second server
        other.execute("UPDATE kv SET value = x'00' WHERE partition = 'p'")
        started = time.perf_counter()
        assert kv.get("p", b"k") == b"committed"
        assert list(kv.scan("p")) == [(b"k", b"committed")]
        assert time.perf_counter() - started < 1.0  # far below the busy timeout
        other.execute("ROLLBACK")
    finally:
        other.close()
        kv.close()


def test_a_write_blocked_past_the_busy_timeout_is_too_many_requests(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db", busy_timeout=0.2)
    other = sqlite3.connect(tmp_path / "kv.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(TooManyRequests):
            kv.set("p", b"k", b"v")
        other.execute("COMMIT")
        kv.set("p", b"k", b"v")  # the store is usable again once the lock is gone
        assert kv.get("p", b"k") == b"v"
    finally:
        other.close()
        kv.close()


def test_every_thread_reads_through_its_own_connection(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db")
    kv.set("p", b"k", b"v")
    seen: list[bytes | None] = []
    threads = [threading.Thread(target=lambda: seen.append(kv.get("p", b"k"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kv.close()
    assert seen == [b"v"] * 4


def test_a_threads_read_connection_closes_when_the_thread_ends(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db")
    connections: list[sqlite3.Connection] = []

    def read_once() -> None:
        kv.get("p", b"k")
        connections.append(kv._reader())

    thread = threading.Thread(target=read_once)
    thread.start()
    thread.join()
    del thread
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connections[0].execute("SELECT 1")
    kv.close()


def test_open_kv_memory_gives_an_empty_in_process_store() -> None:
    kv = open_kv("memory://")
    assert isinstance(kv, MemoryKV)
    assert kv.get("p", b"k") is None


def test_open_kv_sqlite_with_an_absolute_path_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "lakever.db"
    kv = open_kv(f"sqlite:///{path}")  # path is absolute: four slashes in all
    try:
        assert isinstance(kv, SQLiteKV)
        kv.set("p", b"k", b"v")
    finally:
        kv.close()
    assert path.is_file()


def test_open_kv_sqlite_with_a_relative_path_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kv = open_kv("sqlite:///data/lakever.db")
    kv.close()
    assert (tmp_path / "data" / "lakever.db").is_file()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_kv_postgres_urls_open_a_postgres_store(postgres_url: str, scheme: str) -> None:
    url = postgres_url.replace("postgresql://", f"{scheme}://", 1)
    kv = open_kv(url)
    try:
        assert isinstance(kv, PostgresKV)
        kv.set("p", b"k", b"v")
        assert kv.get("p", b"k") == b"v"
    finally:
        kv.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost",
        "lakever.db",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "mysql://root@localhost/db",
    ],
    ids=[
        "unknown scheme",
        "no scheme",
        "sqlite without path",
        "sqlite empty path",
        "sqlite in memory",
        "mysql",
    ],
)
def test_open_kv_refuses_anything_else(url: str) -> None:
    with pytest.raises(InvalidValue):
        open_kv(url)


@pytest.mark.postgres
def test_postgres_repr_never_shows_the_password(postgres_url: str) -> None:
    # The local server trusts every password, so this one is real but never checked.
    kv = PostgresKV(postgres_url.replace("postgres@", "postgres:s3cret@", 1))
    try:
        assert "s3cret" not in repr(kv)
        assert "127.0.0.1:5432" in repr(kv)
    finally:
        kv.close()


def test_paged_scans_start_with_a_small_page_and_grow_to_the_batch() -> None:
    """A scan that stops after a row reads a few rows, not a batch; a long one reaches
    full batches after a few pages, and every row comes once, in order."""
    from lakever_server.storage.kv.base import FIRST_PAGE, paged_scan

    rows = [(f"{i:05}".encode(), b"v") for i in range(5_000)]
    asked: list[int] = []

    def fetch(cursor: bytes, inclusive: bool, size: int) -> list[tuple[bytes, bytes]]:
        asked.append(size)
        after = [row for row in rows if row[0] >= cursor and (inclusive or row[0] > cursor)]
        return after[:size]

    first = next(paged_scan(fetch, b"", None, 1000))
    assert first == rows[0]
    assert asked == [FIRST_PAGE]
    asked.clear()
    assert list(paged_scan(fetch, b"", None, 1000)) == rows
    assert asked[:4] == [FIRST_PAGE, 4 * FIRST_PAGE, 16 * FIRST_PAGE, 1000]
    assert set(asked[3:]) == {1000}
    asked.clear()
    assert list(paged_scan(fetch, rows[10][0], 30, 1000)) == rows[10:40]
    assert asked == [FIRST_PAGE, 30 - FIRST_PAGE]
