"""Large objects stream through the server: its memory stays flat on upload and download."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil

from tests.support.server import RunningServer, start_server

SIZE_MIB = 192
BLOCK = 1024 * 1024
MAX_GROWTH_MIB = 64  # far below the object's size: nothing holds it whole


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss / BLOCK
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss / BLOCK)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def blocks(digest: hashlib._Hash) -> Iterator[bytes]:
    for index in range(SIZE_MIB):
        block = bytes([index % 251]) * BLOCK
        digest.update(block)
        yield block


def test_streaming_a_large_object_keeps_server_memory_flat(
    lakever_server: RunningServer,
) -> None:
    assert lakever_server.process is not None
    with lakever_server.http(timeout=600) as http:
        http.post("/repositories", json={"name": "large", "storage_namespace": "local://large"})
        sent = hashlib.md5()
        with PeakRss(lakever_server.process.pid) as upload:
            response = http.post(
                "/repositories/large/branches/main/objects",
                params={"path": "big.bin"},
                content=blocks(sent),
            )
        assert response.status_code == 201, response.text
        assert response.json()["size_bytes"] == SIZE_MIB * BLOCK
        assert response.json()["checksum"] == sent.hexdigest()
        received = hashlib.md5()
        with (
            PeakRss(lakever_server.process.pid) as download,
            http.stream(
                "GET", "/repositories/large/refs/main/objects", params={"path": "big.bin"}
            ) as stream,
        ):
            for chunk in stream.iter_bytes(BLOCK):
                received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()
    assert upload.peak - upload.baseline < MAX_GROWTH_MIB
    assert download.peak - download.baseline < MAX_GROWTH_MIB


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_staged(
    tmp_path: Path,
) -> None:
    limit = 3 * BLOCK + 17
    server = start_server(tmp_path, extra_env={"LAKEVER_LIMITS__MAX_OBJECT_BYTES": str(limit)})
    try:
        with server.http() as http:
            http.post(
                "/repositories", json={"name": "limited", "storage_namespace": "local://limited"}
            )
            url = "/repositories/limited/branches/main/objects"
            too_big = http.post(url, params={"path": "big.bin"}, content=blocks(hashlib.md5()))
            assert too_big.status_code == 400
            assert "maximum" in too_big.json()["message"]
            stat = http.get(
                "/repositories/limited/refs/main/objects/stat", params={"path": "big.bin"}
            )
            assert stat.status_code == 404
            fits = http.post(url, params={"path": "ok.bin"}, content=b"x" * limit)
            assert fits.status_code == 201
    finally:
        server.stop()
