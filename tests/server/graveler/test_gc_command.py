"""``lakever-server gc``: an operator collects orphan tree storage on the configured stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lakever_server.config import load_settings
from lakever_server.graveler.graveler import CommitRequest, Graveler
from lakever_server.graveler.tree import NodeCache, PackedNodeStore, Tree
from lakever_server.services import open_blocks, open_metadata_store

NAMESPACE = "local://lake/repo1"


def gc_command(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakever_server.serve", "gc", "--data-dir", str(data_dir), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def prepare(data_dir: Path) -> tuple[list[str], str]:
    """A repository with a commit, plus a crash-left tree (packed and indexed, named by
    no commit), every blob two hours old. Returns all packs and the orphan root."""
    settings = load_settings(None, {"data_dir": str(data_dir)})
    kv, block = open_metadata_store(settings), open_blocks(settings)
    try:
        graveler = Graveler(kv, block)
        graveler.create_repository("repo1", NAMESPACE)
        items = [(f"k/{i:05}".encode(), b"v") for i in range(2_000)]
        graveler.import_items("repo1", "main", lambda: items, CommitRequest("me", "import", {}))
        orphan = Tree(PackedNodeStore(block, kv, NAMESPACE, NodeCache())).build(
            [(f"lost/{i:05}".encode(), b"x") for i in range(2_000)]
        )
        packs = [s.address for s in block.list_prefix(f"{NAMESPACE}/_lakever/packs/")]
    finally:
        kv.close()
    for address in packs:
        path = settings.blocks_path / address.split("://", 1)[1]
        old = path.stat().st_mtime - 7200
        os.utime(path, (old, old))
    return packs, orphan


def test_gc_removes_orphan_packs_and_reports_them_as_json(tmp_path: Path) -> None:
    packs, _ = prepare(tmp_path)
    dry = gc_command(tmp_path, "--json", "--dry-run", "--grace-hours", "1")
    assert dry.returncode == 0, dry.stderr
    (planned,) = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["packs_deleted"] == 1
    done = gc_command(tmp_path, "repo1", "--json", "--grace-hours", "1")
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert report["repositories"] == ["repo1"]
    assert report["packs_deleted"] == 1
    assert report["rows_deleted"] > 0
    settings = load_settings(None, {"data_dir": str(tmp_path)})
    left = list(open_blocks(settings).list_prefix(f"{NAMESPACE}/_lakever/packs/"))
    assert len(left) == len(packs) - 1
    kv = open_metadata_store(settings)
    try:
        assert Graveler(kv, open_blocks(settings)).verify("repo1") == []
    finally:
        kv.close()
    again = gc_command(tmp_path)  # every repository, the default grace of a day
    assert again.returncode == 0, again.stderr
    assert "removed 0 packs, 0 index rows" in again.stdout
    assert f"{len(packs) - 1} packs within the grace period" in again.stdout


def test_gc_refuses_an_unknown_repository_and_a_short_grace_period(tmp_path: Path) -> None:
    prepare(tmp_path)
    unknown = gc_command(tmp_path, "nope")
    assert unknown.returncode == 2
    assert "repository nope not found" in unknown.stderr
    short = gc_command(tmp_path, "--grace-hours", "0.1")
    assert short.returncode == 2
    assert "--grace-hours must be at least 1" in short.stderr
