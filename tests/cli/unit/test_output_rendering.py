"""Tables for people, JSON for scripts, errors on one stderr line."""

from __future__ import annotations

import json

import pytest

from lakever_server.cli.errors import CliError, ConflictEntry, ExitCode
from lakever_server.cli.output import (
    OutputFormat,
    emit_message,
    emit_record,
    emit_rows,
    format_size,
    format_time,
    report_error,
)

ROWS = [
    {"id": "main", "commit_id": "a" * 64, "metadata": {"k": "v"}},
    {"id": "dev", "commit_id": "b" * 64, "metadata": {}},
]


def test_json_rows_are_one_parsable_array_with_every_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit_rows(ROWS, ("id",), OutputFormat.JSON)
    assert json.loads(capsys.readouterr().out) == ROWS


def test_table_rows_show_the_columns_unfolded(capsys: pytest.CaptureFixture[str]) -> None:
    emit_rows(ROWS, ("id", "commit_id", "metadata"), OutputFormat.TABLE)
    out = capsys.readouterr().out
    assert "COMMIT ID" in out
    assert "a" * 64 in out  # a long id stays whole for copy and paste
    assert "k=v" in out
    assert out.index("main") < out.index("dev")


def test_an_empty_table_says_so_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    emit_rows([], ("id",), OutputFormat.TABLE)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "(none)" in captured.err


def test_record_and_message_in_both_formats(capsys: pytest.CaptureFixture[str]) -> None:
    emit_record({"path": "a.csv", "size_bytes": 3}, OutputFormat.TABLE)
    assert capsys.readouterr().out.splitlines() == ["Path        a.csv", "Size bytes  3"]
    emit_message("Branch created", OutputFormat.JSON, branch="dev")
    assert json.loads(capsys.readouterr().out) == {"message": "Branch created", "branch": "dev"}


def test_error_is_one_line_and_a_conflict_lists_every_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    conflicts = [ConflictEntry(f"data/{i}.csv", "changed on both sides") for i in range(12)]
    report_error(
        CliError("merge conflict (HTTP 409)", ExitCode.CONFLICT, conflicts=conflicts),
        OutputFormat.TABLE,
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "lakever: error: merge conflict (HTTP 409)"
    assert lines[1:] == [f"  conflict: data/{i}.csv (changed on both sides)" for i in range(12)]


def test_json_error_is_one_parsable_line(capsys: pytest.CaptureFixture[str]) -> None:
    report_error(
        CliError("not found (HTTP 404)", ExitCode.NOT_FOUND, status=404), OutputFormat.JSON
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert json.loads(err) == {
        "error": {"message": "not found (HTTP 404)", "exit_code": 3, "status": 404}
    }


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, ""), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_sizes_read_in_binary_units(size: int | None, text: str) -> None:
    assert format_size(size) == text


def test_times_read_in_utc() -> None:
    assert format_time(0) == "1970-01-01 00:00:00 UTC"
    assert format_time(None) == ""
