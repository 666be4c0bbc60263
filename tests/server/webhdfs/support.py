"""A running server with WebHDFS, and a minimal WebHDFS REST client for the tests."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import TEST_SECRET_KEY, RunningServer, free_port

ROOT = Path(__file__).resolve().parents[3]


def start_webhdfs_server(data_dir: Path) -> RunningServer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEVER_")}
    env["LAKEVER_AUTH__ENCRYPT__SECRET_KEY"] = TEST_SECRET_KEY
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "tests.server.webhdfs.webhdfs_server"]
    command += ["--data-dir", str(data_dir), "--port", str(port)]
    server = RunningServer(data_dir=data_dir, port=port, command=command, env=env)
    server.start()
    return server


@pytest.fixture(scope="module")
def webhdfs_server() -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory(prefix="lakever-webhdfs-") as data_dir:
        server = start_webhdfs_server(Path(data_dir))
        try:
            yield server
        finally:
            server.stop()


def token_url(server: RunningServer) -> str:
    return f"{server.url}/webhdfs/oauth2/token"


def access_token(server: RunningServer) -> str:
    response = httpx.post(
        token_url(server),
        data={
            "grant_type": "client_credentials",
            "client_id": server.access_key_id,
            "client_secret": server.secret_access_key,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class WebHdfs:
    """The REST calls, following the two-step redirects as Hadoop's client does."""

    def __init__(self, server: RunningServer, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=f"{server.url}/webhdfs/v1", headers=headers, timeout=60)

    def call(self, method: str, path: str, op: str, **params: Any) -> httpx.Response:
        return self.http.request(method, path, params={"op": op, **params})

    def json(self, method: str, path: str, op: str, **params: Any) -> Any:
        response = self.call(method, path, op, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def create(self, path: str, data: bytes, *, overwrite: bool = True) -> httpx.Response:
        first = self.call("PUT", path, "CREATE", overwrite=str(overwrite).lower())
        assert first.status_code == 307, first.text
        return self.http.put(first.headers["Location"], content=data)

    def append(self, path: str, data: bytes) -> httpx.Response:
        first = self.call("POST", path, "APPEND")
        assert first.status_code == 307, first.text
        return self.http.post(first.headers["Location"], content=data)

    def open(self, path: str, **params: Any) -> httpx.Response:
        first = self.call("GET", path, "OPEN", **params)
        assert first.status_code == 307, first.text
        return self.http.get(first.headers["Location"])

    def names(self, path: str) -> list[str]:
        statuses = self.json("GET", path, "LISTSTATUS")["FileStatuses"]["FileStatus"]
        return [s["pathSuffix"] for s in statuses]
