"""Branch protection, credentials, doctor and exit codes against the real server, and the
installed ``lakever`` script run as a real process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakever_server.cli import app
from tests.cli.e2e.lakever_runner import Lakever, cli_env, run_script, unique_repository


def test_protected_branch_refuses_commits_but_takes_merges(lakever: Lakever, repo: str) -> None:
    lakever.run("branch-protect", "add", f"lakefs://{repo}", "main")
    assert lakever.json("branch-protect", "list", f"lakefs://{repo}") == [{"pattern": "main"}]
    again = lakever.run("branch-protect", "add", f"lakefs://{repo}", "main", code=4)
    assert "already protected" in again.stderr
    refused = lakever.run("fs", "upload", "-", f"lakefs://{repo}/main/x.csv", input="x", code=5)
    assert "protected" in refused.stderr
    lakever.run("branch", "create", f"lakefs://{repo}/work", "--source", "main")
    lakever.run("fs", "upload", "-", f"lakefs://{repo}/work/x.csv", input="x")
    lakever.run("commit", f"lakefs://{repo}/work", "-m", "x")
    lakever.run("merge", f"lakefs://{repo}/work", "main")
    assert lakever.run("fs", "cat", f"lakefs://{repo}/main/x.csv").stdout == "x"
    lakever.run("branch-protect", "delete", f"lakefs://{repo}", "main")
    assert lakever.json("branch-protect", "list", f"lakefs://{repo}") == []
    lakever.run("branch-protect", "delete", f"lakefs://{repo}", "main", code=3)
    lakever.run("fs", "upload", "-", f"lakefs://{repo}/main/y.csv", input="y")


def test_credentials_create_list_authenticate_and_delete(lakever: Lakever) -> None:
    me = lakever.json("auth", "whoami")
    assert me["id"]
    created = lakever.json("auth", "credentials", "create")
    key, secret = created["access_key_id"], created["secret_access_key"]
    assert secret  # shown once, at creation
    listed = lakever.json("auth", "credentials", "list")
    assert key in [c["access_key_id"] for c in listed]
    assert secret not in json.dumps(listed)
    as_new = lakever.json("--access-key-id", key, "--secret-access-key", secret, "auth", "whoami")
    assert as_new["id"] == me["id"]
    lakever.run("auth", "credentials", "delete", key, "--yes")
    revoked = lakever.run(
        "--access-key-id", key, "--secret-access-key", secret, "repo", "list", code=5
    )
    assert "(HTTP 401)" in revoked.stderr
    assert secret not in revoked.output


def test_wrong_secret_exits_with_the_auth_code_without_echoing_it(lakever: Lakever) -> None:
    wrong = "not-the-secret-but-still-private-1234"
    result = lakever.run("--secret-access-key", wrong, "repo", "list", code=5)
    assert result.stderr.startswith("lakever: error: ")
    assert result.stderr.count("\n") == 1
    assert wrong not in result.output
    doctor = lakever.run("--secret-access-key", wrong, "doctor", code=5)
    assert "FAIL credentials" in doctor.stdout
    assert wrong not in doctor.output


def test_doctor_checks_endpoint_credentials_and_version(lakever: Lakever) -> None:
    report = lakever.json("doctor")
    assert [c["check"] for c in report["checks"]] == ["endpoint", "credentials", "version"]
    assert all(c["ok"] for c in report["checks"])
    assert "version" in report["checks"][2]["detail"]
    shown = json.dumps(report)
    assert lakever.server.secret_access_key not in shown
    assert lakever.server.access_key_id in shown
    text = lakever.run("doctor").stdout
    assert "ok   endpoint" in text
    assert lakever.server.secret_access_key not in text


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["repo", "show", "lakefs://no-such-repo"], 3, id="missing repository is 3"),
        pytest.param(["branch", "show", "lakefs://{repo}/nope"], 3, id="missing branch is 3"),
        pytest.param(
            ["branch", "create", "lakefs://{repo}/main", "--source", "main"],
            4,
            id="existing branch is 4",
        ),
        pytest.param(
            ["commit", "lakefs://{repo}/main", "-m", "empty"], 6, id="nothing to commit is 6"
        ),
        pytest.param(["log", "lakefs://{repo}/main~99"], 3, id="ref beyond history is 3"),
        pytest.param(
            ["branch", "create", "lakefs://{repo}/Bad Name", "--source", "main"],
            6,
            id="invalid name is 6",
        ),
    ],
)
def test_api_errors_map_to_distinct_exit_codes(
    lakever: Lakever, repo: str, args: list[str], code: int
) -> None:
    result = lakever.run(*(a.replace("{repo}", repo) for a in args), code=code)
    assert result.stderr.startswith("lakever: error: ")
    assert result.stderr.count("\n") == 1


def test_installed_script_round_trip_as_a_real_process(lakever: Lakever, tmp_path: Path) -> None:
    """Uploads, log as JSON, a conflicting merge and downloads through the real script;
    the rest of the setup runs in-process to keep process start-ups few."""
    server = lakever.server
    home = tmp_path / "home"
    home.mkdir()
    repo = unique_repository("script")

    def lakever_cli(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = run_script(server, home, args, cwd=tmp_path)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done

    lakever.run("repo", "create", f"lakefs://{repo}")
    data = tmp_path / "data"
    for i in range(40):
        (data / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (data / f"d{i % 4}" / f"{i}.txt").write_text(f"row {i}\n")
    lakever_cli("fs", "upload", str(data), f"lakefs://{repo}/main/data/", "-R")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "data", "--meta", "run=1")
    log = json.loads(lakever_cli("log", f"lakefs://{repo}/main", "--output", "json").stdout)
    assert [c["message"] for c in log] == ["data", "Repository created"]
    assert log[0]["metadata"] == {"run": "1"}
    # both sides change every file of d1/, differently: the merge conflicts on each
    lakever.run("branch", "create", f"lakefs://{repo}/my-branch", "--source", "main")
    for branch in ("main", "my-branch"):
        for i in range(1, 40, 4):
            (data / "d1" / f"{i}.txt").write_text(f"{branch} {i}\n")
        lakever.run("fs", "upload", str(data / "d1"), f"lakefs://{repo}/{branch}/data/d1/", "-R")
        lakever.run("commit", f"lakefs://{repo}/{branch}", "-m", f"{branch} side")
    failed = lakever_cli("merge", f"lakefs://{repo}/my-branch", "main", code=4)
    lines = failed.stderr.splitlines()
    assert lines[0].startswith("lakever: error: merge my-branch into main")
    conflicted = sorted(line.split("conflict: ")[1].split(" ")[0] for line in lines[1:])
    assert conflicted == sorted(f"data/d1/{i}.txt" for i in range(1, 40, 4))
    back = tmp_path / "back"
    lakever_cli("fs", "download", f"lakefs://{repo}/my-branch/data/", str(back), "--recursive")
    assert (back / "d1" / "5.txt").read_text() == "my-branch 5\n"
    assert (back / "d3" / "7.txt").read_text() == "row 7\n"
    assert len(list(back.rglob("*.txt"))) == 40
    lakever.run("repo", "delete", f"lakefs://{repo}", "--yes")
    missing = lakever_cli("repo", "show", f"lakefs://{repo}", "-o", "json", code=3)
    assert json.loads(missing.stderr)["error"]["status"] == 404


def test_read_only_repository_refuses_writes_and_needs_force_to_delete(
    lakever: Lakever, tmp_path: Path
) -> None:
    """Through the installed script: 403s exit with the auth/permission code (5)."""
    home = tmp_path / "home"
    home.mkdir()
    repo = unique_repository("readonly")

    def lakever_cli(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = run_script(lakever.server, home, args, cwd=tmp_path)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done

    created = lakever_cli("repo", "create", f"lakefs://{repo}", "--read-only")
    assert created.stdout.startswith(f"Read-only repository {repo} created")
    assert lakever.json("repo", "show", f"lakefs://{repo}")["read_only"] is True
    (tmp_path / "a.txt").write_text("a\n")
    refused = lakever_cli(
        "fs", "upload", str(tmp_path / "a.txt"), f"lakefs://{repo}/main/a.txt", code=5
    )
    assert "read-only repository" in refused.stderr
    assert "(HTTP 403)" in refused.stderr
    kept = lakever_cli("repo", "delete", f"lakefs://{repo}", "--yes", code=5)
    assert "--force deletes a read-only repository" in kept.stderr
    assert lakever.json("repo", "show", f"lakefs://{repo}")["id"] == repo
    lakever_cli("repo", "delete", f"lakefs://{repo}", "--yes", "--force")
    lakever.run("repo", "show", f"lakefs://{repo}", code=3)


def test_shell_completion_offers_repositories_refs_and_paths(lakever: Lakever, repo: str) -> None:
    lakever.run("branch", "create", f"lakefs://{repo}/my-experiment", "--source", "main")
    lakever.run("fs", "upload", "-", f"lakefs://{repo}/main/events/day=1.csv", input="x")
    lakever.run("fs", "upload", "-", f"lakefs://{repo}/main/readme.txt", input="x")

    def complete(*words: str) -> list[str]:
        env = {
            "_LAKEVER_COMPLETE": "complete_bash",
            "COMP_WORDS": " ".join(["lakever", *words]),
            "COMP_CWORD": str(len(words)),
        }
        result = CliRunner().invoke(
            app, [], prog_name="lakever", env=cli_env(lakever.server, lakever.home, **env)
        )
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("fs", "ls", "lak") == ["lakefs://"]
    assert complete("fs", "ls", f"lakefs://{repo[:-2]}") == [f"lakefs://{repo}/"]
    assert complete("branch", "show", f"lakefs://{repo}/") == [
        f"lakefs://{repo}/main/",
        f"lakefs://{repo}/my-experiment/",
    ]
    assert complete("fs", "cat", f"lakefs://{repo}/main/") == [
        f"lakefs://{repo}/main/events/",
        f"lakefs://{repo}/main/readme.txt",
    ]
    # a server that refuses the credentials completes nothing, quietly
    assert complete("--secret-access-key", "wrong", "fs", "ls", f"lakefs://{repo}/") == []
