"""Rendering results: Rich tables for people, JSON for scripts.

Commands build plain rows (``dict[str, Any]``) and hand them here, so both formats
always carry the same fields. JSON goes to stdout as one document; tables too. Errors
and progress go to stderr so a pipeline never reads them as data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from lakever_server.cli.errors import CliError


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


Row = Mapping[str, Any]


def stdout_console() -> Console:
    # Wide when not a terminal: a table piped to grep must not be folded mid-value.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 240, highlight=False)


def stderr_console() -> Console:
    return Console(file=sys.stderr, width=None if sys.stderr.isatty() else 240, highlight=False)


def format_time(epoch: int | None) -> str:
    """Epoch seconds as a readable UTC timestamp."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_size(size: int | None) -> str:
    """Bytes in the largest unit that keeps the number readable."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def model_dict(model: Any) -> dict[str, Any]:
    """An SDK model's fields as a plain dict (the SDK's ``to_dict`` is untyped)."""
    data: dict[str, Any] = model.to_dict()
    return data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_table(rows: Sequence[Row], columns: Sequence[str]) -> Table:
    """A borderless table with one column per key, in ``columns`` order."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column.replace("_", " ").upper(), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def emit_rows(rows: Sequence[Row], columns: Sequence[str], fmt: OutputFormat) -> None:
    """Print a list: a table, or a JSON array of objects with every field."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(to_json(list(rows)) + "\n")
        return
    if not rows:
        stderr_console().print("(none)")
        return
    stdout_console().print(render_table(rows, columns))


def emit_record(record: Row, fmt: OutputFormat, *, keys: Sequence[str] | None = None) -> None:
    """Print one object: ``key: value`` lines, or a JSON object."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(to_json(dict(record)) + "\n")
        return
    shown = keys if keys is not None else list(record)
    width = max((len(k) for k in shown), default=0)
    lines = [f"{k.replace('_', ' ').capitalize():<{width}}  {_cell(record.get(k))}" for k in shown]
    sys.stdout.write("\n".join(lines) + "\n")


def emit_message(message: str, fmt: OutputFormat, **fields: Any) -> None:
    """A confirmation: a sentence for people, ``{"message": ..., **fields}`` for scripts."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(to_json({"message": message, **fields}) + "\n")
        return
    sys.stdout.write(message + "\n")


def report_error(error: CliError, fmt: OutputFormat) -> None:
    """An error on one stderr line; a merge conflict adds one line per path."""
    if fmt is OutputFormat.JSON:
        sys.stderr.write(json.dumps({"error": error.as_dict()}) + "\n")
        return
    lines = [f"lakever: error: {error.message}"]
    lines += [
        f"  conflict: {c.path}" + (f" ({c.reason})" if c.reason else "") for c in error.conflicts
    ]
    sys.stderr.write("\n".join(lines) + "\n")
