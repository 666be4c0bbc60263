"""Run the real ``lakever-server run`` process for integration tests.

``start_server(data_dir)`` picks a free port, starts the server as a subprocess, and
polls ``/api/v1/healthcheck`` until it answers (or fails with the server's output).
Fixtures::

    from tests.support.server import lakever_server  # noqa: F401  (pytest fixture)

    def test_something(lakever_server: RunningServer) -> None:
        client = lakever_server.sdk_client()

``lakever_server`` is a SQLite quickstart server shared by one test module;
``lakever_server_postgres`` the same on a fresh PostgreSQL database (skipped when no
PostgreSQL answers on 127.0.0.1:5432).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lakever_server.auth import QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY

# Generous: on a loaded 2-core machine with parallel test workers, imports and store
# opening can take far longer than the few seconds they take on an idle one. Polled,
# so a fast start is never slowed down.
STARTUP_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0
TEST_SECRET_KEY = "lakever-tests-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    """A ``lakever-server run`` subprocess and how to reach it."""

    data_dir: Path
    port: int
    command: list[str]
    env: dict[str, str]
    access_key_id: str = QUICKSTART_ACCESS_KEY_ID
    secret_access_key: str = QUICKSTART_SECRET_ACCESS_KEY
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_healthy()

    def wait_healthy(self, deadline_s: float = STARTUP_DEADLINE_S) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"lakever-server exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                response = httpx.get(f"{self.api_url}/healthcheck", timeout=1.0)
                if response.status_code == 204:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling interval, not a readiness wait
        self.kill()
        raise RuntimeError(f"lakever-server not healthy within {deadline_s}s:\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM and wait for a graceful exit; returns the exit code."""
        if self.process is None:
            return 0
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the server can tell."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.kill()
        process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def sdk_configuration(self, **overrides: Any) -> Any:
        import lakefs_sdk

        return lakefs_sdk.Configuration(
            host=self.api_url,
            username=overrides.get("username", self.access_key_id),
            password=overrides.get("password", self.secret_access_key),
        )

    def sdk_client(self, **overrides: Any) -> Any:
        """A ``lakefs_sdk.ApiClient`` for the quickstart admin (``lakefs_sdk.XxxApi(it)``).

        ``username``/``password`` overrides authenticate as another key pair.
        """
        import lakefs_sdk

        return lakefs_sdk.ApiClient(self.sdk_configuration(**overrides))

    def lakefs_sdk_client(self, **overrides: Any) -> Any:
        """A ``lakefs_sdk.client.LakeFSClient`` (``.branches_api``, ``.objects_api``...)."""
        from lakefs_sdk.client import LakeFSClient

        return LakeFSClient(self.sdk_configuration(**overrides))

    def lakefs_client(self) -> Any:
        """A high-level ``lakefs.Client`` for the ``lakefs`` wrapper."""
        import lakefs

        return lakefs.Client(
            host=self.url, username=self.access_key_id, password=self.secret_access_key
        )

    def http(self, *, auth: bool = True, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on ``/api/v1`` (Basic auth unless ``auth=False``)."""
        credentials = (self.access_key_id, self.secret_access_key) if auth else None
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.api_url, auth=credentials, **kwargs)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.stop()


def server_command(data_dir: Path, port: int, *, quickstart: bool) -> list[str]:
    # The ``lakever-server`` console script is ``lakever_server.serve:main``; running the
    # module with this interpreter is the same entry point without relying on PATH.
    command = [sys.executable, "-m", "lakever_server.serve", "run"]
    command += ["--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    if quickstart:
        command.append("--quickstart")
    return command


def start_server(
    data_dir: str | Path,
    *,
    kv_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    quickstart: bool = True,
) -> RunningServer:
    """Start ``lakever-server run`` on a free port and wait until it is healthy."""
    data_path = Path(data_dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEVER_")}
    env.setdefault("LAKEVER_AUTH__ENCRYPT__SECRET_KEY", TEST_SECRET_KEY)
    env["PYTHONUNBUFFERED"] = "1"
    if kv_url is not None:
        env["LAKEVER_METADATA__URL"] = kv_url
    env.update(extra_env or {})
    server = RunningServer(
        data_dir=data_path,
        port=port,
        command=server_command(data_path, port, quickstart=quickstart),
        env=env,
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def lakever_server() -> Iterator[RunningServer]:
    """A quickstart server on SQLite and local disk in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="lakever-server-") as data_dir:
        server = start_server(data_dir)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def lakever_server_postgres() -> Iterator[RunningServer]:
    """A quickstart server whose metadata lives in a fresh PostgreSQL database."""
    from tests.support import postgres

    reason = postgres.server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgres.create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="lakever-server-pg-") as data_dir:
            server = start_server(data_dir, kv_url=url)
            try:
                yield server
            finally:
                server.stop()
    finally:
        postgres.drop_database(url)
