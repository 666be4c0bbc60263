"""Lifecycle: graceful shutdown of a real process, and metadata schema migrations."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from lakever_server.storage.kv import open_kv
from lakever_server.storage.kv.migrations import current_revision, head_revision, upgrade
from lakever_server.storage.kv.sqlite import SQLiteKV
from tests.support import postgres
from tests.support.server import RunningServer, start_server

CHUNK = b"z" * (256 * 1024)
CHUNKS = 40
DEADLINE_S = 30.0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = postgres.server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- graceful shutdown -------------------------------------------------------------------


def refuses_connections(server: RunningServer) -> bool:
    """Poll until a new request cannot connect; False if it still can at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.api_url}/healthcheck", timeout=1.0)
        except httpx.TransportError:
            return True
    return False


def test_sigterm_lets_an_inflight_upload_finish_and_refuses_new_requests(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    with server.http() as http:
        created = http.post(
            "/repositories", json={"name": "drain", "storage_namespace": "local://drain"}
        )
        assert created.status_code == 201
    started, terminated = threading.Event(), threading.Event()
    outcome: list[httpx.Response] = []

    def slow_body() -> Iterator[bytes]:
        yield CHUNK
        started.set()
        terminated.wait(DEADLINE_S)  # the rest only once SIGTERM has been sent
        for _ in range(CHUNKS - 1):
            yield CHUNK

    def upload() -> None:
        with server.http(timeout=DEADLINE_S * 2) as http:
            outcome.append(
                http.post(
                    "/repositories/drain/branches/main/objects",
                    params={"path": "big.bin"},
                    content=slow_body(),
                    headers={"Content-Type": "application/octet-stream"},
                )
            )

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert started.wait(DEADLINE_S)
    process = server.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    try:
        assert refuses_connections(server), "still accepting after SIGTERM"
        assert process.poll() is None, "exited with an upload in flight"
    finally:
        terminated.set()
        uploader.join(DEADLINE_S * 2)
    assert len(outcome) == 1, "the upload got no answer"
    assert outcome[0].status_code == 201, outcome[0].text
    assert process.wait(timeout=DEADLINE_S) == 0
    server.process = None
    server.start()
    try:
        with server.http() as http:
            read = http.get("/repositories/drain/refs/main/objects", params={"path": "big.bin"})
        assert read.content == CHUNK * CHUNKS
    finally:
        server.stop()


# -- migrations ---------------------------------------------------------------------------


def test_an_upgrade_from_the_base_schema_keeps_every_value(store_url: str) -> None:
    assert upgrade(store_url, "0001") == "0001"
    kv = open_kv(store_url)
    try:
        kv.write_batch("refs", [(b"branch/main", b"head-1"), (b"branch/dev", b"head-2")])
        kv.set("staging", b"\x00\xffbinary", b"\x01" * 1000)
    finally:
        kv.close()
    assert upgrade(store_url) == head_revision() == "0002"
    kv = open_kv(store_url)
    try:
        assert list(kv.scan("refs")) == [(b"branch/dev", b"head-2"), (b"branch/main", b"head-1")]
        assert kv.get("staging", b"\x00\xffbinary") == b"\x01" * 1000
        kv.set_if("refs", b"branch/main", b"head-3", b"head-1")
        assert kv.get("refs", b"branch/main") == b"head-3"
    finally:
        kv.close()
    if store_url.startswith("postgresql"):
        engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            options = connection.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'kv'")
            ).scalar()
        engine.dispose()
        assert options == ["fillfactor=80"]


def test_a_store_created_before_migrations_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = SQLiteKV(tmp_path / "old.db")  # creates the table itself, records no revision
    old.set("refs", b"k", b"v")
    old.close()
    assert current_revision(url) is None
    assert upgrade(url) == "0002"
    kv = open_kv(url)
    try:
        assert kv.get("refs", b"k") == b"v"
    finally:
        kv.close()


def migrate_command(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakever_server.serve", "migrate", "--data-dir", str(data_dir)],
        env={"LAKEVER_METADATA__URL": url, "PATH": "/usr/bin:/bin", "HOME": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_migrate_command_upgrades_the_configured_store(store_url: str, tmp_path: Path) -> None:
    done = migrate_command(tmp_path, store_url)
    assert done.returncode == 0, done.stderr
    assert "revision 0002" in done.stdout
    assert current_revision(store_url) == "0002"


def test_the_server_migrates_on_start_unless_told_not_to(postgres_url: str, tmp_path: Path) -> None:
    off = {"LAKEVER_METADATA__MIGRATE_ON_START": "false"}
    with start_server(tmp_path / "off", kv_url=postgres_url, extra_env=off):
        assert current_revision(postgres_url) is None
    with start_server(tmp_path / "on", kv_url=postgres_url):
        assert current_revision(postgres_url) == "0002"
