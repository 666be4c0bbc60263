"""kill -9 the real ``lakever-server`` mid-commit and mid-merge; nothing is corrupted.

A client drives branch/upload/commit/merge cycles over the lakeFS REST API while a
timer SIGKILLs the server at a random moment; after every kill the data directory is
checked in-process (fsck plus reading every committed object), then the server restarts
on the same data and the client carries on.
"""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path

import httpx

from tests.server.graveler.test_crash_consistency import check_repository
from tests.support.server import RunningServer, start_server

KILLS = 4
REPO = "crash"


def _ok(response: httpx.Response) -> None:
    response.raise_for_status()


def _cycle(http: httpx.Client, n: int) -> None:
    """One run over the lakeFS REST API: branch, three uploads, commit, merge, direct commit."""
    run = f"run-{uuid.uuid4().hex[:8]}"
    _ok(http.post(f"/repositories/{REPO}/branches", json={"name": run, "source": "main"}))
    for k in range(3):
        path = f"out/{run}/part-{k}"
        _ok(
            http.post(
                f"/repositories/{REPO}/branches/{run}/objects",
                params={"path": path},
                content=path.encode() * 100,
                headers={"Content-Type": "application/octet-stream"},
            )
        )
    _ok(http.post(f"/repositories/{REPO}/branches/{run}/commits", json={"message": run}))
    _ok(http.post(f"/repositories/{REPO}/refs/{run}/merge/main", json={}))
    _ok(
        http.post(
            f"/repositories/{REPO}/branches/main/objects",
            params={"path": f"direct/{n}"},
            content=b"direct",
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    _ok(http.post(f"/repositories/{REPO}/branches/main/commits", json={"message": f"d{n}"}))


def test_killing_the_server_mid_commit_and_mid_merge_leaves_a_consistent_repository(
    tmp_path: Path,
) -> None:
    rng = random.Random(11)
    server: RunningServer = start_server(tmp_path)
    completed = 0
    try:
        with server.http() as http:
            created = http.post(
                "/repositories", json={"name": REPO, "storage_namespace": "local://crash-repo"}
            )
            _ok(created)
        for kill in range(KILLS):
            with server.http() as client:
                # A kill between an upload to main and its commit leaves main dirty.
                recovered = client.post(
                    f"/repositories/{REPO}/branches/main/commits", json={"message": "recover"}
                )
                assert recovered.status_code in (201, 400), recovered.text
                _cycle(client, 1000 + kill)  # one whole cycle per life: the lake grows
                completed += 1
                timer = threading.Timer(rng.uniform(0.05, 0.6), server.kill)
                timer.start()
                try:
                    for n in range(1000):
                        _cycle(client, kill * 1000 + n)
                        completed += 1
                except httpx.TransportError:  # the server died under the client
                    pass
                finally:
                    timer.join()
            check_repository(tmp_path / "metadata.db", tmp_path / "blocks", REPO)
            server = start_server(tmp_path)
    finally:
        server.stop()
    assert completed >= KILLS
    assert check_repository(tmp_path / "metadata.db", tmp_path / "blocks", REPO) >= KILLS * 3
