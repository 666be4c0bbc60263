"""Large objects stream through the server: its memory stays flat on upload and download."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import psutil

from tests.support.server import RunningServer

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
