"""``docs/cli.md`` documents every command, every setting and every exit code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import typer.main

from lakever_server.cli import app
from lakever_server.cli.config import SETTINGS
from lakever_server.cli.errors import ExitCode

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def command_paths(group: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if getattr(command, "commands", None):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def documented(spans: list[list[str]], path: tuple[str, ...]) -> bool:
    """A span such as `branch-protect add|list|delete REPO` documents each alternative."""
    *group, leaf = path
    for words in spans:
        head = words[: len(group)]
        if head == group and len(words) > len(group) and leaf in words[len(group)].split("|"):
            return True
    return False


def test_every_command_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8").replace("\\|", "|")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # examples are not the reference
    spans = [span.split() for span in re.findall(r"`([^`]+)`", text)]
    paths = list(command_paths(typer.main.get_command(app)))
    assert len(paths) > 30
    assert [" ".join(p) for p in paths if not documented(spans, p)] == []


def test_every_setting_and_exit_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.key}`" in text
        assert f"`{setting.env}`" in text
        assert f"`{setting.flag}`" in text
    for code in ExitCode:
        assert f"\n| {int(code)} | " in text, code
