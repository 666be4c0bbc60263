"""The ``lakever`` root command: global options, sub-commands, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lakever_server.cli.errors import CliError, ExitCode, from_exception, redact
from lakever_server.cli.output import OutputFormat, report_error
from lakever_server.cli.state import CliState, error_format


def _click_exception(name: str) -> type[Exception]:
    """Typer ships its own copy of click; find its exception classes where they live."""
    for klass in typer.BadParameter.__mro__:
        if klass.__name__ == name:
            return klass
    raise ImportError(name)  # pragma: no cover - typer always derives from both


ClickUsageError = _click_exception("UsageError")
ClickException = _click_exception("ClickException")


class LakeverGroup(TyperGroup):
    """Root group that turns every failure into one stderr line and an exit code.

    Overriding ``main`` covers both the console script and ``CliRunner`` (which calls
    ``main`` too), so tests observe exactly the exit codes scripts see.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = int(self._run(args, prog_name, complete_var, **extra))
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        **extra: Any,
    ) -> int:
        error_format.set(OutputFormat.TABLE)
        state = CliState()
        extra.setdefault("obj", state)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickUsageError as exc:
            context: Any = getattr(exc, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            message = " ".join(getattr(exc, "format_message", exc.__str__)().split())
            _report(CliError(f"{message}{hint}", ExitCode.USAGE), state)
            return ExitCode.USAGE
        except ClickException as exc:
            code = int(getattr(exc, "exit_code", 1))
            message = " ".join(getattr(exc, "format_message", exc.__str__)().split())
            _report(CliError(message, ExitCode.ERROR if code != 2 else ExitCode.USAGE), state)
            return code
        except typer.Abort:
            sys.stderr.write("lakever: aborted\n")
            return ExitCode.ERROR
        except Exception as exc:
            error = from_exception(exc)  # re-raises what is not a client failure
            _report(error, state)
            return error.exit_code
        finally:
            state.close()
        return result if isinstance(result, int) else ExitCode.OK


def _report(error: CliError, state: CliState) -> None:
    safe = CliError(
        redact(error.message, state.secrets),
        error.exit_code,
        status=error.status,
        conflicts=error.conflicts,
    )
    report_error(safe, error_format.get())


app = typer.Typer(
    cls=LakeverGroup,
    name="lakever",
    help="Version your data lake from the terminal: repositories, branches, commits, "
    "merges and objects on any lakeFS-compatible endpoint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="Server URL (env LAKECTL_SERVER_ENDPOINT_URL).",
            show_default=False,
        ),
    ] = None,
    access_key_id: Annotated[
        str | None,
        typer.Option(
            "--access-key-id",
            metavar="KEY",
            help="Access key id (env LAKECTL_CREDENTIALS_ACCESS_KEY_ID).",
        ),
    ] = None,
    secret_access_key: Annotated[
        str | None,
        typer.Option(
            "--secret-access-key",
            metavar="SECRET",
            help="Secret access key (env LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY).",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Config file (env LAKECTL_CONFIG_FILE; ~/.lakectl.yaml).",
        ),
    ] = None,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="Default output format.")
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository",
            "-r",
            metavar="REPO",
            envvar="LAKEVER_REPOSITORY",
            help="Repository for bare ref names (e.g. `lakever -r repo merge dev main`).",
        ),
    ] = None,
    parallelism: Annotated[
        int, typer.Option("--parallelism", "-p", min=1, max=64, help="Concurrent transfers.")
    ] = 8,
) -> None:
    """Global options; they come before the command."""
    state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    ctx.obj = state
    state.flags = {
        "server.endpoint_url": endpoint,
        "credentials.access_key_id": access_key_id,
        "credentials.secret_access_key": secret_access_key,
    }
    state.config_file = config
    state.output = output
    if output is not None:
        error_format.set(output)
    state.repository = repository
    state.parallelism = parallelism


def _mount() -> None:
    """Attach every command family; imported late so each module stays independent."""
    from lakever_server.cli.commands import (
        auth,
        branches,
        commits,
        doctor,
        imports,
        objects,
        protection,
        refs,
        repos,
        revert,
        tags,
    )

    app.add_typer(repos.app, name="repo")
    app.add_typer(branches.app, name="branch")
    app.add_typer(tags.app, name="tag")
    app.command("commit")(commits.commit)
    app.command("log")(commits.log)
    app.add_typer(commits.show_app, name="show")
    app.command("diff")(refs.diff)
    app.command("merge")(refs.merge)
    app.command("cherry-pick")(refs.cherry_pick)
    branches.app.command("revert")(revert.revert)
    app.command("revert")(revert.revert)
    app.add_typer(objects.app, name="fs")
    app.command("import")(imports.import_)
    app.add_typer(protection.app, name="branch-protect")
    app.add_typer(auth.app, name="auth")
    app.command("doctor")(doctor.doctor)
    app.add_typer(doctor.config_app, name="config")


_mount()
