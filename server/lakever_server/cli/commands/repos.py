"""``lakever repo create|list|show|delete``.

``create --read-only`` makes a repository that refuses every change (HTTP 403), as
lakeFS's API allows (lakectl has no such flag); ``delete --force`` deletes one anyway.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakever_server.cli.commands.common import AmountOption, RepositoryArg, YesOption, confirm
from lakever_server.cli.errors import CliError, UsageError, from_api_exception
from lakever_server.cli.output import (
    OutputFormat,
    emit_message,
    emit_record,
    emit_rows,
    format_time,
)
from lakever_server.cli.paging import page_size, paginate
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_repository

app = typer.Typer(help="Create, list, show and delete repositories.", no_args_is_help=True)

COLUMNS = ("id", "default_branch", "storage_namespace", "created")
SHOW_KEYS = (*COLUMNS, "read_only")


def _row(repo: Any) -> dict[str, Any]:
    row: dict[str, Any] = repo.to_dict()
    row["created"] = format_time(repo.creation_date)
    return row


def _default_namespace(ctx: typer.Context, name: str) -> str:
    """``<default_namespace_prefix>/<name>`` from the server's storage config."""
    config = state_of(ctx).client.config_api.get_config()
    storage = config.storage_config
    if storage is None and config.storage_config_list:
        storage = config.storage_config_list[0]
    prefix = storage.default_namespace_prefix if storage is not None else None
    if not prefix:
        raise UsageError(
            "the server has no default storage namespace: give one, e.g. "
            f"lakever repo create lakefs://{name} s3://bucket/{name}"
        )
    # "local://" and "s3://bucket/repos/" both take the name after one separator.
    separator = "" if prefix.endswith("/") else "/"
    return f"{prefix}{separator}{name}"


@app.command("create")
def create(
    ctx: typer.Context,
    uri: RepositoryArg,
    storage_namespace: Annotated[
        str | None,
        typer.Argument(help="Where data is stored, e.g. s3://bucket/repo (default: server's)."),
    ] = None,
    default_branch: Annotated[
        str, typer.Option("--default-branch", "-d", help="Name of the default branch.")
    ] = "main",
    sample_data: Annotated[
        bool, typer.Option("--sample-data", help="Fill the default branch with sample data.")
    ] = False,
    bare: Annotated[bool, typer.Option("--bare", help="No initial commit nor branch.")] = False,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Refuse every change (uploads, commits, merges, ...)."),
    ] = False,
    output: OutputOption = None,
) -> None:
    """Create a repository."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    name = parse_repository(uri).repository
    namespace = storage_namespace or _default_namespace(ctx, name)
    from lakefs_sdk.models.repository_creation import RepositoryCreation

    creation = RepositoryCreation.from_dict(
        {
            "name": name,
            "storage_namespace": namespace,
            "default_branch": default_branch,
            "sample_data": sample_data,
            "read_only": read_only,
        }
    )
    repo = state.client.repositories.create_repository(creation, bare=bare or None)
    if fmt is OutputFormat.JSON:
        emit_record(_row(repo), fmt)
    else:
        kind = "Read-only repository" if read_only else "Repository"
        emit_message(
            f"{kind} {repo.id} created: {namespace} (default branch {default_branch})", fmt
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only ids starting so.")] = None,
    amount: AmountOption = None,
    output: OutputOption = None,
) -> None:
    """List repositories."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    api = state.client.repositories
    repos = paginate(
        lambda after: api.list_repositories(prefix=prefix, after=after, amount=page_size(amount)),
        limit=amount,
    )
    emit_rows([_row(r) for r in repos], COLUMNS, fmt)


@app.command("show")
def show(ctx: typer.Context, uri: RepositoryArg, output: OutputOption = None) -> None:
    """Show one repository."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    repo = state.client.repositories.get_repository(parse_repository(uri).repository)
    emit_record(_row(repo), fmt, keys=SHOW_KEYS)


@app.command("delete")
def delete(
    ctx: typer.Context,
    uri: RepositoryArg,
    yes: YesOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete it even if it is read-only.")
    ] = False,
    output: OutputOption = None,
) -> None:
    """Delete a repository and all its branches, tags and commits."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    name = parse_repository(uri).repository
    confirm(f"Delete repository {name} and all its history?", yes)
    from lakefs_sdk.exceptions import ApiException

    try:
        state.client.repositories.delete_repository(name, force=force or None)
    except ApiException as exc:
        error = from_api_exception(exc, context=f"delete repository {name}")
        if exc.status == 403 and not force and "read-only" in error.message:
            error = CliError(
                f"{error.message}; --force deletes a read-only repository",
                error.exit_code,
                status=error.status,
            )
        raise error from exc
    emit_message(f"Repository {name} deleted", fmt, repository=name)
