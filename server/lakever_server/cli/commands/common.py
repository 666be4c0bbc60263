"""Argument helpers shared by the command modules."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import UsageError
from lakever_server.cli.output import emit_rows, format_time, model_dict
from lakever_server.cli.paging import page_size, paginate
from lakever_server.cli.state import CliState, OutputOption, state_of
from lakever_server.cli.uri import parse_repository

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

MetaOption = Annotated[
    list[str] | None,
    typer.Option("--meta", help="Metadata as key=value; repeat for several.", metavar="K=V"),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AmountOption = Annotated[
    int | None, typer.Option("--amount", "-n", min=1, help="Show at most this many.")
]
RepositoryArg = Annotated[
    str,
    typer.Argument(
        help="lakefs://<repository>", metavar="REPOSITORY_URI", autocompletion=complete_uri
    ),
]
PrefixOption = Annotated[str | None, typer.Option("--prefix", help="Only names starting so.")]


def parse_meta(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` as a mapping; a pair without ``=`` is a usage error."""
    meta: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --meta {pair!r}: expected key=value")
        meta[key] = value
    return meta


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying something, unless ``--yes``; scripts must pass ``--yes``."""
    if yes:
        return
    try:
        confirmed = typer.confirm(question, default=False, err=True)
    except typer.Abort:  # no terminal to answer on (stdin closed)
        sys.stderr.write("\n")
        confirmed = False
    if not confirmed:
        raise UsageError("not confirmed (pass --yes to skip the question)")


def default_repository(state: CliState) -> str | None:
    """The ``--repository`` default, as a bare repository name."""
    if not state.repository:
        return None
    if state.repository.startswith("lakefs://"):
        return parse_repository(state.repository).repository
    return state.repository


def commit_row(commit: Any) -> dict[str, Any]:
    """A commit as a row: every API field plus a readable date."""
    row: dict[str, Any] = commit.to_dict()
    row["date"] = format_time(commit.creation_date)
    row.setdefault("metadata", {})
    if row["metadata"] is None:
        row["metadata"] = {}
    return row


def list_refs(
    ctx: typer.Context,
    uri: str,
    lister: Callable[[LakeClient], Callable[..., Any]],
    *,
    prefix: str | None,
    amount: int | None,
    output: OutputOption,
) -> None:
    """Print the named refs (branches or tags) of a repository and the commit each names.

    Args:
        ctx: the command's context.
        uri: ``lakefs://<repository>``.
        lister: picks the paged listing call from the client, e.g.
            ``lambda c: c.tags.list_tags``.
        prefix: only names starting so.
        amount: at most this many.
        output: the command's ``--output``.
    """
    state = state_of(ctx)
    fmt = state.fmt(output)
    repository = parse_repository(uri).repository
    list_page = lister(state.client)
    refs = paginate(
        lambda after: list_page(repository, prefix=prefix, after=after, amount=page_size(amount)),
        limit=amount,
    )
    emit_rows([model_dict(r) for r in refs], ("id", "commit_id"), fmt)
