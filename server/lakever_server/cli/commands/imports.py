"""``lakever import``: zero-copy import of a block-store path into a branch."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakever_server.cli.commands.common import MetaOption, default_repository, parse_meta
from lakever_server.cli.commands.refs import iter_diff
from lakever_server.cli.errors import CliError, ExitCode
from lakever_server.cli.output import emit_message
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_path, parse_ref

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

POLL_SECONDS = 0.5


def import_(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Option("--from", help="Block-store path, e.g. s3://bucket/prefix/ or local://..."),
    ],
    destination: Annotated[
        str, typer.Option("--to", help="lakefs://<repository>/<branch>/<prefix> to import into.")
    ],
    message: Annotated[
        str, typer.Option("--message", "-m", help="Message of the import commit.")
    ] = "Import objects",
    meta: MetaOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the import to finish.")
    ] = 3600,
    output: OutputOption = None,
) -> None:
    """Import objects from the block store without copying them, as one commit."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    if destination.startswith("lakefs://"):
        target = parse_path(destination)
    else:
        target = parse_ref(destination, default_repository=default_repository(state))
    is_object = (
        not source.endswith("/") and bool(target.path) and not (target.path or "").endswith("/")
    )
    location = {
        "type": "object" if is_object else "common_prefix",
        "path": source,
        "destination": target.path or "",
    }
    commit = {"message": message, "metadata": parse_meta(meta) or None}
    from lakefs_sdk.models.import_creation import ImportCreation

    creation = ImportCreation.from_dict({"paths": [location], "commit": commit})
    api = state.client.imports
    started = api.import_start(target.repository, target.ref_or_fail, creation)
    deadline = time.monotonic() + timeout
    while True:
        status = api.import_status(target.repository, target.ref_or_fail, started.id)
        if status.error is not None:
            raise CliError(f"import {started.id} failed: {status.error.message}")
        if status.completed:
            break
        if time.monotonic() > deadline:
            raise CliError(f"import {started.id} still running after {timeout:g}s", ExitCode.ERROR)
        time.sleep(POLL_SECONDS)  # the import runs on the server; poll its status
    commit_id = status.commit.id if status.commit is not None else ""
    objects = status.ingested_objects
    if objects is None and status.commit is not None:
        objects = _count_imported(state.client, target.repository, status.commit, target.path)
    emit_message(
        f"Imported {objects or 0} object(s) into {target}: commit {commit_id}",
        fmt,
        import_id=started.id,
        objects=objects or 0,
        commit_id=commit_id,
    )


def _count_imported(client: LakeClient, repository: str, commit: Any, prefix: str | None) -> int:
    """Objects the import commit added, for servers that do not report the count."""
    if not commit.parents:
        return 0
    changes = iter_diff(
        client, repository, commit.parents[0], commit.id, prefix=prefix or None, two_dot=True
    )
    return sum(1 for change in changes if change.path_type == "object")
