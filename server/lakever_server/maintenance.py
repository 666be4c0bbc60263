"""``lakever-server gc``: collect the tree storage no commit names, on the configured stores.

An operator's command, like ``migrate``: it opens the metadata and block stores the
server is configured with (``--config``, ``--data-dir``, ``LAKEVER_*``) and may run
while servers serve: a pack younger than the grace period is never removed, so a commit
in flight is safe as long as it takes less than the grace period (see
``graveler/gc.py``). Interrupted repository deletes are finished first.

Exit codes: 0 done, 2 bad input (unknown repository, a grace period too short).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from lakever_server.config import Settings
from lakever_server.errors import InvalidValue
from lakever_server.graveler import gc
from lakever_server.graveler.graveler import Graveler
from lakever_server.services import open_blocks, open_metadata_store

MIN_GRACE_HOURS = 1.0
"""Below this a long commit or import could lose the packs it already wrote."""


def add_gc_command(commands: Any) -> None:
    """Add ``gc`` to ``lakever-server``'s sub-commands."""
    parser = commands.add_parser(
        "gc", help="remove tree storage (packs, index rows) that no commit names"
    )
    parser.add_argument("repositories", nargs="*", help="repositories (default: every one)")
    parser.add_argument(
        "--grace-hours",
        type=float,
        default=gc.DEFAULT_GRACE_SECONDS / 3600,
        help="keep anything written more recently than this (default 24, at least 1); "
        "must exceed the longest commit, merge or import",
    )
    parser.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--config", help="YAML configuration file (default: $LAKEVER_CONFIG)")
    parser.add_argument("--data-dir", help="data directory (default ~/.lakever)")
    parser.set_defaults(quickstart=False, host=None, port=None)


def run_gc(args: argparse.Namespace, settings: Settings) -> int:
    if args.grace_hours < MIN_GRACE_HOURS:
        raise InvalidValue(
            f"--grace-hours must be at least {MIN_GRACE_HOURS:g}: packs younger than it "
            "may belong to a commit still being written",
            field="grace_hours",
        )
    kv = open_metadata_store(settings)
    try:
        graveler = Graveler(kv, open_blocks(settings))
        names = args.repositories or [repo.id for repo in graveler.list_repositories()]
        reports = [
            graveler.collect_garbage(
                name, grace_seconds=args.grace_hours * 3600, dry_run=args.dry_run
            )
            for name in names
        ]
    finally:
        kv.close()
    if args.json:
        print(json.dumps([report.as_dict() for report in reports], indent=2))
    else:
        for report in reports:
            print(_line(report))
    return 0


def _line(report: gc.GCReport) -> str:
    verb = "would remove" if report.dry_run else "removed"
    line = (
        f"{report.namespace} ({', '.join(report.repositories)}): {report.commits} commits, "
        f"{report.nodes_marked} nodes reachable; {verb} {report.packs_deleted} packs, "
        f"{report.rows_deleted} index rows, {report.blobs_deleted} node blobs "
        f"({report.bytes_freed / 2**20:.1f} MiB); {report.packs_kept_young} packs within "
        "the grace period"
    )
    if report.purged:
        line += f"; finished deleting {', '.join(report.purged)}"
    return line
