"""``lakever branch create|list|show|delete|reset|revert`` and ``lakever revert``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakever_server.cli.commands.common import (
    AmountOption,
    PrefixOption,
    RepositoryArg,
    YesOption,
    commit_row,
    confirm,
    default_repository,
    list_refs,
)
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import UsageError
from lakever_server.cli.output import emit_message, emit_record
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_ref, parse_refs

app = typer.Typer(
    help="Create, list, show, delete, reset and revert branches.", no_args_is_help=True
)

BranchArg = Annotated[
    str,
    typer.Argument(
        help="lakefs://<repository>/<branch>", metavar="BRANCH_URI", autocompletion=complete_uri
    ),
]
ParentOption = Annotated[
    int | None,
    typer.Option(
        "--parent-number", "-m", min=1, help="For a merge commit: the parent to diff against."
    ),
]


def _branch(ctx: typer.Context, text: str) -> tuple[str, str]:
    uri = parse_ref(text, default_repository=default_repository(state_of(ctx)), what="branch")
    return uri.repository, uri.ref_or_fail


@app.command("create")
def create(
    ctx: typer.Context,
    uri: BranchArg,
    source: Annotated[
        str, typer.Option("--source", "-s", help="Ref to branch from: lakefs://repo/main or main.")
    ],
    output: OutputOption = None,
) -> None:
    """Create a branch at the head of a source ref (zero-copy)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    branch_uri, source_uri = parse_refs(
        [uri, source], default_repository=default_repository(state), what="ref"
    )
    from lakefs_sdk.models.branch_creation import BranchCreation

    creation = BranchCreation.from_dict(
        {"name": branch_uri.ref_or_fail, "source": source_uri.ref_or_fail}
    )
    commit_id = state.client.branches.create_branch(branch_uri.repository, creation)
    emit_message(
        f"Branch {branch_uri} created from {source_uri.ref} at {commit_id}",
        fmt,
        repository=branch_uri.repository,
        branch=branch_uri.ref,
        source=source_uri.ref,
        commit_id=commit_id,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    uri: RepositoryArg,
    prefix: PrefixOption = None,
    amount: AmountOption = None,
    output: OutputOption = None,
) -> None:
    """List the branches of a repository and the commit each points at."""
    list_refs(
        ctx, uri, lambda c: c.branches.list_branches, prefix=prefix, amount=amount, output=output
    )


@app.command("show")
def show(ctx: typer.Context, uri: BranchArg, output: OutputOption = None) -> None:
    """Show a branch: its head commit."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    repository, branch = _branch(ctx, uri)
    ref = state.client.branches.get_branch(repository, branch)
    commit = state.client.commits.get_commit(repository, ref.commit_id)
    row: dict[str, Any] = {
        "branch": ref.id,
        "commit_id": ref.commit_id,
        "message": commit.message,
        "committer": commit.committer,
        "date": commit_row(commit)["date"],
    }
    emit_record(row, fmt)


@app.command("delete")
def delete(
    ctx: typer.Context, uri: BranchArg, yes: YesOption = False, output: OutputOption = None
) -> None:
    """Delete a branch (its commits stay reachable from other refs)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    repository, branch = _branch(ctx, uri)
    confirm(f"Delete branch {branch} of {repository}?", yes)
    state.client.branches.delete_branch(repository, branch)
    emit_message(f"Branch {branch} deleted", fmt, repository=repository, branch=branch)


@app.command("reset")
def reset(
    ctx: typer.Context,
    uri: BranchArg,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only under this prefix.")] = None,
    object_path: Annotated[str | None, typer.Option("--object", help="Only this object.")] = None,
    yes: YesOption = False,
    output: OutputOption = None,
) -> None:
    """Drop uncommitted changes of a branch (all, under a prefix, or one object)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    if prefix is not None and object_path is not None:
        raise UsageError("give --prefix or --object, not both")
    repository, branch = _branch(ctx, uri)
    from lakefs_sdk.models.reset_creation import ResetCreation

    if object_path is not None:
        creation = ResetCreation.from_dict({"type": "object", "path": object_path})
    elif prefix is not None:
        creation = ResetCreation.from_dict({"type": "common_prefix", "path": prefix})
    else:
        creation = ResetCreation.from_dict({"type": "reset"})
    confirm(f"Discard uncommitted changes on {branch}?", yes)
    state.client.branches.reset_branch(repository, branch, creation)
    emit_message(f"Branch {branch} reset", fmt, repository=repository, branch=branch)
