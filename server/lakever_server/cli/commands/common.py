"""Argument helpers shared by the command modules."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from lakever_server.cli.errors import UsageError
from lakever_server.cli.output import format_time
from lakever_server.cli.state import CliState
from lakever_server.cli.uri import parse_repository

MetaOption = Annotated[
    list[str] | None,
    typer.Option("--meta", help="Metadata as key=value; repeat for several.", metavar="K=V"),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AmountOption = Annotated[
    int | None, typer.Option("--amount", "-n", min=1, help="Show at most this many.")
]


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
