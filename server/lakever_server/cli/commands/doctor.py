"""``lakever doctor`` and ``lakever config show``: is this setup able to work?

Both print the configuration with the secret masked: their output gets pasted into
bug reports and chat.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from lakever_server.cli.errors import CliError, ExitCode, from_exception, redact
from lakever_server.cli.output import OutputFormat, emit_rows, to_json
from lakever_server.cli.state import OutputOption, state_of

config_app = typer.Typer(help="Show the resolved configuration.", no_args_is_help=True)


@config_app.command("show")
def show(ctx: typer.Context, output: OutputOption = None) -> None:
    """Each setting, its value (secrets masked) and where it came from."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    emit_rows(state.config.describe(), ("key", "value", "source"), fmt)


def _check(name: str, probe: Callable[[], str], secrets: tuple[str, ...]) -> dict[str, Any]:
    try:
        detail = probe()
    except Exception as exc:
        error = from_exception(exc)
        message = redact(error.message, secrets)
        return {"check": name, "ok": False, "detail": message, "exit_code": int(error.exit_code)}
    return {"check": name, "ok": True, "detail": detail, "exit_code": 0}


def doctor(ctx: typer.Context, output: OutputOption = None) -> None:
    """Check the endpoint answers, the credentials work and the server's version."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    config = state.config
    client = state.client

    def endpoint() -> str:
        client.health.health_check()
        return f"{config.endpoint_url} is healthy"

    def credentials() -> str:
        if not config.access_key_id or not config.secret_access_key:
            raise CliError("no credentials configured", ExitCode.AUTH)
        user = client.auth.get_current_user().user
        return f"access key {config.access_key_id} authenticates as {user.id}"

    def version() -> str:
        found = client.config_api.get_config().version_config
        return f"server version {found.version if found else 'unknown'}"

    secrets = config.secrets
    checks = [_check("endpoint", endpoint, secrets)]
    if checks[0]["ok"]:
        checks += [_check("credentials", credentials, secrets), _check("version", version, secrets)]
    report = {"config": config.describe(), "checks": checks}
    if fmt is OutputFormat.JSON:
        sys.stdout.write(to_json(report) + "\n")
    else:
        emit_rows(config.describe(), ("key", "value", "source"), fmt)
        for check in checks:
            mark = "ok  " if check["ok"] else "FAIL"
            sys.stdout.write(f"{mark} {check['check']:<12} {check['detail']}\n")
    failed = [c for c in checks if not c["ok"]]
    if failed:
        raise typer.Exit(failed[0]["exit_code"])
