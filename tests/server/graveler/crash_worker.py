"""A process that commits, merges and reverts in a loop until killed (crash test).

Run as ``python -m tests.server.graveler.crash_worker DIR``; prints ``ready`` once the
repository is open and ``cycle`` after each round, so the test knows it is working.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from pathlib import Path

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import AlreadyExists, NoChanges
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.kv.sqlite import SQLiteKV

REPO = "crash"


def main(root: Path) -> None:
    catalog = Catalog(SQLiteKV(root / "meta.db"), LocalBlockStore(root / "blocks"))
    with contextlib.suppress(AlreadyExists):
        catalog.create_repository(REPO, "local://lake/crash")
    with contextlib.suppress(NoChanges):  # a previous run may have died mid-write
        catalog.commit(REPO, "main", "recover staged writes", "worker")
    print("ready", flush=True)
    cycle = 0
    while True:
        cycle += 1
        run = f"run-{uuid.uuid4().hex[:8]}"
        catalog.create_branch(REPO, run, "main")
        for k in range(5):
            path = f"data/{run}/part-{k}"
            catalog.write_object(REPO, run, path, [path.encode() * 50])
        catalog.commit(REPO, run, f"{run} output", "worker")
        catalog.merge(REPO, run, "main", "worker")
        catalog.delete_branch(REPO, run)
        catalog.write_object(REPO, "main", f"direct/{cycle}", [b"direct"])
        catalog.commit(REPO, "main", f"direct {cycle}", "worker")
        if cycle % 3 == 0:
            catalog.revert(REPO, "main", ["main"], "worker")
        print("cycle", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
