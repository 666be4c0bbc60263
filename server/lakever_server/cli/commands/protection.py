"""``lakever branch-protect add|list|delete``: branches refusing direct writes."""

from __future__ import annotations

from typing import Annotated

import typer

from lakever_server.cli.commands.common import RepositoryArg
from lakever_server.cli.errors import CliError, ExitCode
from lakever_server.cli.output import emit_message, emit_rows
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_repository

app = typer.Typer(
    help="Protect branches from direct writes, commits and deletes (merges still land).",
    no_args_is_help=True,
)

PatternArg = Annotated[str, typer.Argument(help="Branch name pattern (* and ? wildcards).")]


def _rules(ctx: typer.Context, repository: str) -> tuple[list[str], str | None]:
    """The current patterns and the ETag to update them against (compare-and-set)."""
    response = state_of(ctx).client.repositories.get_branch_protection_rules_with_http_info(
        repository
    )
    headers = response.headers or {}
    etag = headers.get("ETag") or headers.get("etag")
    return [rule.pattern for rule in response.data or []], etag


def _store(ctx: typer.Context, repository: str, patterns: list[str], etag: str | None) -> None:
    from lakefs_sdk.models.branch_protection_rule import BranchProtectionRule

    rules = [BranchProtectionRule.from_dict({"pattern": p}) for p in patterns]
    state_of(ctx).client.repositories.set_branch_protection_rules(repository, rules, if_match=etag)


@app.command("add")
def add(
    ctx: typer.Context, uri: RepositoryArg, pattern: PatternArg, output: OutputOption = None
) -> None:
    """Protect branches matching a pattern."""
    fmt = state_of(ctx).fmt(output)
    repository = parse_repository(uri).repository
    patterns, etag = _rules(ctx, repository)
    if pattern in patterns:
        raise CliError(f"branches matching {pattern!r} are already protected", ExitCode.CONFLICT)
    _store(ctx, repository, [*patterns, pattern], etag)
    emit_message(
        f"Protected branches matching {pattern!r}", fmt, repository=repository, pattern=pattern
    )


@app.command("list")
def list_(ctx: typer.Context, uri: RepositoryArg, output: OutputOption = None) -> None:
    """List the protected branch patterns."""
    fmt = state_of(ctx).fmt(output)
    patterns, _ = _rules(ctx, parse_repository(uri).repository)
    emit_rows([{"pattern": p} for p in patterns], ("pattern",), fmt)


@app.command("delete")
def delete(
    ctx: typer.Context, uri: RepositoryArg, pattern: PatternArg, output: OutputOption = None
) -> None:
    """Stop protecting branches matching a pattern."""
    fmt = state_of(ctx).fmt(output)
    repository = parse_repository(uri).repository
    patterns, etag = _rules(ctx, repository)
    if pattern not in patterns:
        raise CliError(f"no protection rule {pattern!r} in {repository}", ExitCode.NOT_FOUND)
    _store(ctx, repository, [p for p in patterns if p != pattern], etag)
    emit_message(
        f"Unprotected branches matching {pattern!r}", fmt, repository=repository, pattern=pattern
    )
