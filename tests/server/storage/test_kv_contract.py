"""The ``KVStore`` contract: one suite of behaviours, run against every implementation.

Memory, SQLite (a file in a temporary directory) and PostgreSQL (a fresh database per
module on the local server) must all pass every test here; the graveler relies on
nothing else.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lakever_server.errors import PreconditionFailed
from lakever_server.storage.kv import KVStore, open_kv, prefix_end
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.storage.kv.postgres import PostgresKV
from lakever_server.storage.kv.sqlite import SQLiteKV
from tests.server.storage import kv_increment_worker

REPO_ROOT = Path(__file__).resolve().parents[3]

# Deliberately out of ASCII order when compared as text in most collations, and with
# bytes that sign-extend or look like multi-byte characters.
BYTEWISE_ORDER = [
    b"\x00",
    b"A",
    b"a",
    b"a\x00",
    b"a/b",
    b"ab",
    b"\x7f",
    b"\x80",
    b"\xc3\xa9t\xc3\xa9",  # "été" in UTF-8
    b"\xe2\x82\xac",  # "€"
    b"\xfe",
    b"\xff",
    b"\xff\x00",
    b"\xff\xff",
]


def _fresh_postgres(url: str) -> PostgresKV:
    store = PostgresKV(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE kv")
    return store


POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    """One store of each kind, empty."""
    store: KVStore
    if request.param == "memory":
        store = MemoryKV()
    elif request.param == "sqlite":
        store = SQLiteKV(tmp_path / "kv.db")
    else:
        store = _fresh_postgres(request.getfixturevalue("postgres_url"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["sqlite", POSTGRES])
def shared_kv_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store that several processes can open at once."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _fresh_postgres(url).close()
        yield url


def _keys(count: int) -> list[bytes]:
    return [b"key-%06d" % i for i in range(count)]


# -- single keys -------------------------------------------------------------------------


def test_get_returns_none_for_an_absent_key(kv: KVStore) -> None:
    assert kv.get("p", b"missing") is None


def test_set_then_get_returns_the_value_and_set_overwrites(kv: KVStore) -> None:
    kv.set("p", b"k", b"one")
    assert kv.get("p", b"k") == b"one"
    kv.set("p", b"k", b"two")
    assert kv.get("p", b"k") == b"two"


def test_values_round_trip_every_byte_and_the_empty_value(kv: KVStore) -> None:
    every_byte = bytes(range(256)) * 40
    kv.set("p", b"all", every_byte)
    kv.set("p", b"empty", b"")
    assert kv.get("p", b"all") == every_byte
    assert kv.get("p", b"empty") == b""


def test_get_many_returns_only_the_keys_that_exist(kv: KVStore) -> None:
    kv.write_batch("p", [(k, k.upper()) for k in _keys(1200)])
    wanted = [*_keys(1200)[::3], b"absent-1", b"absent-2"]
    found = kv.get_many("p", wanted)
    assert found == {k: k.upper() for k in _keys(1200)[::3]}
    assert kv.get_many("p", []) == {}


def test_delete_removes_and_deleting_an_absent_key_is_fine(kv: KVStore) -> None:
    kv.set("p", b"k", b"v")
    kv.delete("p", b"k")
    assert kv.get("p", b"k") is None
    kv.delete("p", b"k")


# -- compare-and-set ----------------------------------------------------------------------


def test_set_if_absent_creates_only_when_the_key_is_missing(kv: KVStore) -> None:
    kv.set_if("p", b"head", b"c1", None)
    assert kv.get("p", b"head") == b"c1"
    with pytest.raises(PreconditionFailed):
        kv.set_if("p", b"head", b"c2", None)
    assert kv.get("p", b"head") == b"c1"


def test_set_if_expected_replaces_only_the_expected_value(kv: KVStore) -> None:
    kv.set("p", b"head", b"c1")
    kv.set_if("p", b"head", b"c2", b"c1")
    assert kv.get("p", b"head") == b"c2"
    with pytest.raises(PreconditionFailed):
        kv.set_if("p", b"head", b"c3", b"c1")
    assert kv.get("p", b"head") == b"c2"


def test_set_if_expected_on_an_absent_key_fails_and_creates_nothing(kv: KVStore) -> None:
    with pytest.raises(PreconditionFailed):
        kv.set_if("p", b"head", b"c1", b"c0")
    assert kv.get("p", b"head") is None


def test_set_if_with_an_unchanged_value_succeeds(kv: KVStore) -> None:
    kv.set("p", b"head", b"c1")
    kv.set_if("p", b"head", b"c1", b"c1")
    assert kv.get("p", b"head") == b"c1"


def test_delete_if_removes_only_the_expected_value(kv: KVStore) -> None:
    kv.set("p", b"k", b"v1")
    with pytest.raises(PreconditionFailed):
        kv.delete_if("p", b"k", b"v0")
    assert kv.get("p", b"k") == b"v1"
    kv.delete_if("p", b"k", b"v1")
    assert kv.get("p", b"k") is None
    with pytest.raises(PreconditionFailed):
        kv.delete_if("p", b"k", b"v1")


def test_concurrent_set_if_has_exactly_one_winner_per_round(kv: KVStore) -> None:
    threads, rounds = 8, 15
    kv.set("p", b"head", b"round-0")
    barrier = threading.Barrier(threads)
    wins: list[list[int]] = [[] for _ in range(rounds)]
    failures: list[BaseException] = []

    def contend(me: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait()  # all threads start the round together
                expected = b"round-%d" % r
                try:
                    kv.set_if("p", b"head", b"round-%d" % (r + 1), expected)
                    wins[r].append(me)
                except PreconditionFailed:
                    pass
                barrier.wait()  # the round is over for everyone
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    workers = [threading.Thread(target=contend, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    assert [len(w) for w in wins] == [1] * rounds
    assert kv.get("p", b"head") == b"round-%d" % rounds


def test_processes_incrementing_by_set_if_lose_no_update(shared_kv_url: str) -> None:
    processes, increments = 2, 150
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", kv_increment_worker.__name__, shared_kv_url, str(increments)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # start together so the increments interleave
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert [w.returncode for w in workers] == [0] * processes, outputs
    kv = open_kv(shared_kv_url)
    try:
        final = kv.get(kv_increment_worker.PARTITION, kv_increment_worker.KEY)
    finally:
        kv.close()
    assert final == str(processes * increments).encode()


# -- batches --------------------------------------------------------------------------------


def test_write_batch_applies_sets_and_deletes(kv: KVStore) -> None:
    kv.write_batch("p", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    kv.write_batch("p", sets=[(b"d", b"4"), (b"a", b"one")], deletes=[b"b", b"absent"])
    assert list(kv.scan("p")) == [(b"a", b"one"), (b"c", b"3"), (b"d", b"4")]


def test_write_batch_with_a_key_set_and_deleted_ends_up_set(kv: KVStore) -> None:
    kv.set("p", b"k", b"old")
    kv.write_batch("p", sets=[(b"k", b"new")], deletes=[b"k"])
    assert kv.get("p", b"k") == b"new"


def test_write_batch_setting_a_key_twice_keeps_the_last_value(kv: KVStore) -> None:
    kv.write_batch("p", [(b"k", b"first"), (b"other", b"x"), (b"k", b"last")])
    assert kv.get("p", b"k") == b"last"


def test_write_batch_that_fails_midway_changes_nothing(kv: KVStore) -> None:
    kv.write_batch("p", [(b"keep", b"1"), (b"doomed", b"2")])

    def failing_sets() -> Iterator[tuple[bytes, bytes]]:
        for key in _keys(25_000):
            yield key, b"v"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError, match="producer failed"):
        kv.write_batch("p", failing_sets(), deletes=[b"doomed"])
    assert list(kv.scan("p")) == [(b"doomed", b"2"), (b"keep", b"1")]


def test_write_batch_is_never_seen_half_done(kv: KVStore) -> None:
    keys = _keys(20_000)
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.add(len(kv.get_many("p", [keys[0], keys[-1]])))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        kv.write_batch("p", [(k, b"v") for k in keys])
    finally:
        done.set()
        watcher.join()
    assert 1 not in seen
    assert len(kv.get_many("p", [keys[0], keys[-1]])) == 2


# -- scans ----------------------------------------------------------------------------------


def test_scan_yields_keys_in_bytewise_order(kv: KVStore) -> None:
    shuffled = BYTEWISE_ORDER[1::2] + BYTEWISE_ORDER[::2]
    kv.write_batch("p", [(k, b"v") for k in shuffled])
    assert [k for k, _ in kv.scan("p")] == BYTEWISE_ORDER


def test_scan_bounds_are_start_inclusive_end_exclusive(kv: KVStore) -> None:
    kv.write_batch("p", [(k, b"v") for k in BYTEWISE_ORDER])
    got = [k for k, _ in kv.scan("p", b"a", b"\xff")]
    assert got == BYTEWISE_ORDER[BYTEWISE_ORDER.index(b"a") : BYTEWISE_ORDER.index(b"\xff")]
    assert [k for k, _ in kv.scan("p", b"\xff")] == [b"\xff", b"\xff\x00", b"\xff\xff"]
    assert list(kv.scan("p", b"b", b"b")) == []


def test_scan_limit_stops_after_that_many_keys(kv: KVStore) -> None:
    kv.write_batch("p", [(k, b"v") for k in _keys(50)])
    assert [k for k, _ in kv.scan("p", limit=7)] == _keys(50)[:7]
    assert [k for k, _ in kv.scan("p", _keys(50)[45], limit=10)] == _keys(50)[45:]
    assert list(kv.scan("p", limit=0)) == []


def test_scan_pages_through_more_than_a_thousand_keys(kv: KVStore) -> None:
    keys = _keys(2_500)
    kv.write_batch("p", [(k, k[::-1]) for k in reversed(keys)])
    assert list(kv.scan("p")) == [(k, k[::-1]) for k in keys]
    assert [k for k, _ in kv.scan("p", keys[700], keys[2_100])] == keys[700:2_100]
    assert [k for k, _ in kv.scan("p", keys[10], limit=1_500)] == keys[10:1_510]
    assert [k for k, _ in kv.scan("p", limit=1_000)] == keys[:1_000]


def test_scan_sees_writes_made_between_pages(kv: KVStore) -> None:
    keys = _keys(1_500)
    kv.write_batch("p", [(k, b"v") for k in keys])
    scan = kv.scan("p")
    first = next(scan)
    kv.set("p", b"zzz-late", b"v")  # beyond the first page
    rest = [k for k, _ in scan]
    assert [first[0], *rest] == [*keys, b"zzz-late"]


@pytest.mark.parametrize(
    "prefix",
    [b"repo/", b"a", b"\xfe\xff", b"\xff"],
    ids=["path prefix", "one byte", "ends in 0xff", "all 0xff"],
)
def test_scan_to_prefix_end_yields_exactly_the_keys_with_that_prefix(
    kv: KVStore, prefix: bytes
) -> None:
    keys = [
        b"",
        b"a",
        b"a\xff\xff",
        b"ab",
        b"b",
        b"repo",
        b"repo/",
        b"repo/x",
        b"repo0",
        b"\xfe",
        b"\xfe\xff",
        b"\xfe\xff\x00",
        b"\xff",
        b"\xff\xff\xff",
    ]
    kv.write_batch("p", [(k, b"v") for k in keys])
    scanned = [k for k, _ in kv.scan("p", prefix, prefix_end(prefix))]
    assert scanned == sorted(k for k in keys if k.startswith(prefix))


# -- partitions -----------------------------------------------------------------------------


def test_partitions_are_isolated(kv: KVStore) -> None:
    kv.set("repo-a", b"k", b"a")
    kv.set("repo-b", b"k", b"b")
    kv.set("repo-a2", b"x", b"c")
    assert kv.get("repo-a", b"k") == b"a"
    assert kv.get("repo-b", b"k") == b"b"
    assert list(kv.scan("repo-a")) == [(b"k", b"a")]
    assert kv.get_many("repo-b", [b"k", b"x"]) == {b"k": b"b"}


def test_drop_partition_removes_only_that_partition(kv: KVStore) -> None:
    kv.write_batch("staging-1", [(k, b"v") for k in _keys(1_200)])
    kv.set("staging-2", b"k", b"v")
    kv.drop_partition("staging-1")
    assert list(kv.scan("staging-1")) == []
    assert kv.get("staging-1", _keys(1)[0]) is None
    assert list(kv.scan("staging-2")) == [(b"k", b"v")]
    kv.drop_partition("never-existed")
