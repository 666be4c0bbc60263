"""Drive ``lakever`` against a real server: in-process (``CliRunner``) or as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from lakever_server.cli import app
from tests.support.server import RunningServer


def unique_repository(stem: str) -> str:
    """A fresh repository name per test, so tests sharing a server never collide."""
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def cli_env(server: RunningServer, home: Path, **extra: str) -> dict[str, str]:
    """``LAKECTL_*`` settings for ``server``, and a HOME without a lakectl file."""
    return {
        "HOME": str(home),
        "LAKECTL_SERVER_ENDPOINT_URL": server.url,
        "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": server.access_key_id,
        "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": server.secret_access_key,
        "LAKECTL_CONFIG_FILE": "",
        "LAKEVER_REPOSITORY": "",
        **extra,
    }


@dataclass
class Lakever:
    """``lakever`` invoked in-process through ``CliRunner`` with the server's settings."""

    server: RunningServer
    home: Path

    def run(self, *args: str, code: int = 0, input: str | None = None, **env: str) -> Result:
        result = CliRunner().invoke(
            app, list(args), input=input, env=cli_env(self.server, self.home, **env)
        )
        if result.exit_code != code:
            raise AssertionError(
                f"lakever {' '.join(args)} exited {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}"
            )
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        """Run with ``--output json`` and parse stdout."""
        return json.loads(self.run(*args, "--output", "json", code=code).stdout)

    def json_error(self, *args: str, code: int) -> dict[str, Any]:
        """Run a failing command with ``--output json`` and parse its stderr error."""
        error: dict[str, Any] = json.loads(self.run(*args, "--output", "json", code=code).stderr)[
            "error"
        ]
        return error


def installed_script() -> str:
    """The ``lakever`` console script installed next to this interpreter."""
    beside = Path(sys.executable).with_name("lakever")
    found = str(beside) if beside.exists() else shutil.which("lakever")
    if not found:
        raise AssertionError("the lakever console script is not installed (pip install -e server)")
    return found


def run_script(
    server: RunningServer, home: Path, args: Sequence[str], *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``lakever`` script as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "LAKEVER_"))}
    env.update(cli_env(server, home))
    return subprocess.run(
        [installed_script(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
