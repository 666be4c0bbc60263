"""The command line's own behaviour, before any request: usage errors, config, help."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import shellingham
from typer.testing import CliRunner

from lakever_server.cli import app

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No lakectl config or LAKECTL_* variables leak in from the machine."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "LAKECTL_SERVER_ENDPOINT_URL",
        "LAKECTL_CREDENTIALS_ACCESS_KEY_ID",
        "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY",
        "LAKECTL_CONFIG_FILE",
        "LAKEVER_REPOSITORY",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "verb",
    [
        "repo",
        "branch",
        "tag",
        "commit",
        "log",
        "diff",
        "merge",
        "cherry-pick",
        "revert",
        "show",
        "fs",
        "import",
        "branch-protect",
        "auth",
        "doctor",
        "config",
    ],
)
def test_help_lists_every_verb(runner: CliRunner, verb: str) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert f" {verb} " in result.output
    assert runner.invoke(app, [verb, "--help"]).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["branch", "list", "s3://bucket"], id="wrong scheme"),
        pytest.param(
            ["branch", "create", "lakefs://repo/dev", "--source", "main", "extra"], id="extra arg"
        ),
        pytest.param(["fs", "stat", "lakefs://repo/main/"], id="stat of a prefix"),
        pytest.param(
            ["commit", "lakefs://repo/main", "-m", "x", "--meta", "novalue"], id="meta without ="
        ),
        pytest.param(["commit", "lakefs://repo/main"], id="commit without message"),
        pytest.param(
            ["merge", "lakefs://repo/a", "main", "--strategy", "ours"], id="unknown strategy"
        ),
        pytest.param(
            ["merge", "lakefs://one-repo/a", "lakefs://two-repo/main"], id="two repositories"
        ),
        pytest.param(["branch", "frobnicate"], id="unknown command"),
        pytest.param(["log", "main"], id="bare ref without repository"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    runner: CliRunner, isolated_env: Path, args: list[str]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("lakever: error: ")
    assert result.stdout == ""


def test_json_usage_error_is_a_json_line(runner: CliRunner, isolated_env: Path) -> None:
    result = runner.invoke(app, ["log", "not-a-uri", "-o", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["exit_code"] == 2


def test_unreachable_endpoint_exits_1_on_one_line(runner: CliRunner, isolated_env: Path) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    result = runner.invoke(
        app,
        [
            "--endpoint",
            endpoint,
            "--access-key-id",
            "AKIA",
            "--secret-access-key",
            SECRET,
            "repo",
            "list",
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("lakever: error: cannot reach the endpoint")
    assert result.stderr.count("\n") == 1
    assert SECRET not in result.output


def test_config_show_masks_the_secret_and_names_sources(
    runner: CliRunner, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", SECRET)
    (isolated_env / ".lakectl.yaml").write_text(
        "credentials:\n  access_key_id: AKIAFROMFILE\nserver:\n  endpoint_url: http://lake:8000\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--endpoint", "http://flag:9", "config", "show", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows["server.endpoint_url"] == {
        "key": "server.endpoint_url",
        "value": "http://flag:9/api/v1",
        "source": "flag --endpoint",
    }
    assert rows["credentials.access_key_id"]["value"] == "AKIAFROMFILE"
    assert (
        rows["credentials.secret_access_key"]["source"]
        == "env LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"
    )
    assert SECRET not in result.output
    table = runner.invoke(app, ["config", "show"])
    assert table.exit_code == 0
    assert "AKIAFROMFILE" in table.stdout
    assert SECRET not in table.output


def test_doctor_reports_an_unreachable_endpoint_without_leaking_the_secret(
    runner: CliRunner, isolated_env: Path
) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    result = runner.invoke(
        app,
        [
            "--endpoint",
            endpoint,
            "--access-key-id",
            "AKIA",
            "--secret-access-key",
            SECRET,
            "doctor",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["checks"][0]["check"] == "endpoint"
    assert report["checks"][0]["ok"] is False
    assert SECRET not in result.output


def test_missing_named_config_file_is_a_usage_error(runner: CliRunner, isolated_env: Path) -> None:
    result = runner.invoke(app, ["--config", str(isolated_env / "nope.yaml"), "repo", "list"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_destructive_commands_ask_unless_yes(runner: CliRunner, isolated_env: Path) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    args = ["--endpoint", endpoint, "repo", "delete", "lakefs://repo"]
    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 2
    assert "Delete repository repo" in declined.stderr
    assert declined.stderr.endswith(
        "lakever: error: not confirmed (pass --yes to skip the question)\n"
    )
    no_terminal = runner.invoke(app, args)  # stdin closed, as in a script
    assert no_terminal.exit_code == 2
    assert no_terminal.stderr.splitlines()[-1].endswith("(pass --yes to skip the question)")
    accepted = runner.invoke(app, args, input="y\n")
    assert accepted.exit_code == 1  # confirmed, then the unreachable endpoint
    assert "cannot reach the endpoint" in accepted.stderr


def test_shell_completion_is_available(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # --show-completion names the shell it finds among the process's ancestors; a test
    # runner may have none (CI), so the ancestry is given: bash.
    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
    result = runner.invoke(app, ["--show-completion"])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    assert "complete -o default -F _lakever_completion lakever" in result.stdout


def test_help_and_usage_errors_do_not_load_the_sdk() -> None:
    """Shell completion and --help run the program on every keystroke: they must not pay
    for loading lakefs_sdk (most of the start-up time)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lakever_server.cli import app\n"
        "codes = [CliRunner().invoke(app, a).exit_code for a in (['--help'], ['log', 'x'],"
        " ['fs', 'upload', '--help'], ['config', 'show'])]\n"
        "print(codes, 'lakefs_sdk' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[0, 2, 0, 0] False"
