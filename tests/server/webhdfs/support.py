"""A running server with WebHDFS, and a minimal WebHDFS REST client for the tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer, start_server


@pytest.fixture(scope="module")
def webhdfs_server() -> Iterator[RunningServer]:
    """The real ``lakever-server run --quickstart`` process (WebHDFS on the API's port)."""
    with tempfile.TemporaryDirectory(prefix="lakever-webhdfs-") as data_dir:
        server = start_server(Path(data_dir))
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
