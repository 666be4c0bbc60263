"""kill -9 a process mid-commit and mid-merge many times; the repository stays consistent."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import Entry
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.kv.sqlite import SQLiteKV

KILLS = 20
ROOT = Path(__file__).resolve().parents[3]


def _start(data: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.server.graveler.crash_worker", str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for_line(process: subprocess.Popen[str], expected: str, deadline: float) -> None:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.strip() == expected:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}")
    raise AssertionError(f"worker did not print {expected!r} in time")


def check_repository(metadata: Path, blocks: Path, repo: str = "crash") -> int:
    """fsck, then read every committed object of every branch and check its MD5.

    Returns how many objects were read.
    """
    kv = SQLiteKV(metadata)
    try:
        catalog = Catalog(kv, LocalBlockStore(blocks))
        assert catalog.verify(repo) == []
        checked = 0
        for branch in catalog.list_branches(repo, amount=1000).results:
            after = ""
            while True:
                page = catalog.list_entries(repo, f"{branch.id}@", after=after, amount=1000)
                for entry in page.results:
                    assert isinstance(entry, Entry)
                    content = b"".join(catalog.open_entry(entry))
                    assert hashlib.md5(content).hexdigest() == entry.checksum
                    checked += 1
                if not page.has_more:
                    break
                after = page.next_after
        return checked
    finally:
        kv.close()


def test_kill_9_during_commits_and_merges_leaves_a_consistent_repository(tmp_path: Path) -> None:
    rng = random.Random(20261121)
    cycles_seen = 0
    for _ in range(KILLS):
        process = _start(tmp_path)
        try:
            _wait_for_line(process, "ready", time.monotonic() + 60)
            _wait_for_line(process, "cycle", time.monotonic() + 60)
            cycles_seen += 1
            # Chaos, not readiness: kill at a random point of a later cycle.
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()
        check_repository(tmp_path / "meta.db", tmp_path / "blocks")
    assert cycles_seen == KILLS
    assert (
        check_repository(tmp_path / "meta.db", tmp_path / "blocks") >= KILLS * 5
    )  # every cycle merged five objects, kept on main
