"""``lakever commit``, ``lakever log`` and ``lakever show commit``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from lakever_server.cli.commands.common import (
    MetaOption,
    commit_row,
    default_repository,
    parse_meta,
)
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import UsageError
from lakever_server.cli.output import OutputFormat, emit_record, emit_rows
from lakever_server.cli.paging import page_size, paginate
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_ref

show_app = typer.Typer(help="Show an object of the version history.", no_args_is_help=True)


def describe_commit(row: dict[str, Any], *, full_meta: bool = True) -> str:
    """A commit the way ``git log`` prints it: id, parents, author, date, message."""
    lines = [f"commit {row['id']}"]
    parents = row.get("parents") or []
    if len(parents) > 1:
        lines.append("Merge:  " + " ".join(p[:16] for p in parents))
    lines.append(f"Author: {row.get('committer', '')}")
    lines.append(f"Date:   {row.get('date', '')}")
    lines.append("")
    lines += [f"    {line}" for line in (row.get("message") or "").splitlines() or [""]]
    meta = row.get("metadata") or {}
    if meta and full_meta:
        lines.append("")
        width = max(len(k) for k in meta)
        lines += [f"    {k:<{width}} = {v}" for k, v in sorted(meta.items())]
    return "\n".join(lines) + "\n"


def commit(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            help="lakefs://<repository>/<branch>", metavar="BRANCH_URI", autocompletion=complete_uri
        ),
    ],
    message: Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")] = None,
    meta: MetaOption = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Commit even with no uncommitted changes.")
    ] = False,
    allow_empty_message: Annotated[
        bool, typer.Option("--allow-empty-message", help="Allow an empty message.")
    ] = False,
    output: OutputOption = None,
) -> None:
    """Commit the uncommitted changes of a branch."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_ref(uri, default_repository=default_repository(state), what="branch")
    if not message and not allow_empty_message:
        raise UsageError("a commit needs --message (or --allow-empty-message)")
    from lakefs_sdk.models.commit_creation import CommitCreation

    creation = CommitCreation.from_dict(
        {"message": message or "", "metadata": parse_meta(meta), "allow_empty": allow_empty}
    )
    created = state.client.commits.commit(target.repository, target.ref_or_fail, creation)
    row = commit_row(created)
    if fmt is OutputFormat.JSON:
        emit_record(row, fmt)
        return
    sys.stdout.write(f"Branch: {target}\n" + describe_commit(row))


def log(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            help="lakefs://<repository>/<ref>", metavar="REF_URI", autocompletion=complete_uri
        ),
    ],
    amount: Annotated[
        int | None, typer.Option("--amount", "-n", min=1, help="Show at most this many commits.")
    ] = None,
    prefixes: Annotated[
        list[str] | None,
        typer.Option("--prefixes", help="Only commits touching these prefixes (comma-separated)."),
    ] = None,
    objects: Annotated[
        list[str] | None,
        typer.Option("--objects", help="Only commits touching these objects (comma-separated)."),
    ] = None,
    first_parent: Annotated[
        bool, typer.Option("--first-parent", help="Follow only the first parent of merges.")
    ] = False,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Only commits newer than this time (UTC unless given)."),
    ] = None,
    stop_at: Annotated[str | None, typer.Option("--stop-at", help="Stop at this ref.")] = None,
    output: OutputOption = None,
) -> None:
    """Show the commit history of a ref, newest first."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_ref(uri, default_repository=default_repository(state))
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    prefix_list = _split(prefixes)
    object_list = _split(objects)
    api = state.client.refs
    commits = paginate(
        lambda after: api.log_commits(
            target.repository,
            target.ref_or_fail,
            after=after,
            amount=page_size(amount),
            prefixes=prefix_list,
            objects=object_list,
            first_parent=first_parent or None,
            since=since,
            stop_at=stop_at,
        ),
        limit=amount,
    )
    rows = [commit_row(c) for c in commits]
    if fmt is OutputFormat.JSON:
        emit_rows(rows, (), fmt)
        return
    sys.stdout.write("\n".join(describe_commit(r) for r in rows))


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part]


@show_app.command("commit")
def show_commit(
    ctx: typer.Context,
    uri: Annotated[
        str,
        typer.Argument(
            help="lakefs://<repository>/<commit or ref>",
            metavar="COMMIT_URI",
            autocompletion=complete_uri,
        ),
    ],
    output: OutputOption = None,
) -> None:
    """Show one commit: id, parents, committer, date, message and metadata."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_ref(uri, default_repository=default_repository(state), what="commit")
    found = state.client.commits.get_commit(target.repository, target.ref_or_fail)
    row = commit_row(found)
    if fmt is OutputFormat.JSON:
        emit_record(row, fmt)
        return
    parents = ", ".join(row.get("parents") or []) or "(none)"
    sys.stdout.write(describe_commit(row) + f"\nParents:    {parents}\n")
    sys.stdout.write(f"Meta range: {row.get('meta_range_id', '')}\n")
