"""``lakever-server run``: start the server with uvicorn (also ``migrate`` and ``gc``).

``--quickstart`` runs on the embedded stores (SQLite and local disk in ``--data-dir``)
and creates an admin with lakeFS's documented quickstart keys, printed on start. SIGTERM
and SIGINT stop it gracefully: in-flight requests finish, then the stores close.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn
from pydantic import ValidationError
from starlette.types import ASGIApp

from lakever_server import __version__
from lakever_server.app import create_app
from lakever_server.auth import QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY
from lakever_server.config import Settings, load_settings
from lakever_server.errors import LakeverError
from lakever_server.maintenance import add_gc_command, run_gc
from lakever_server.observability.logs import configure_logging
from lakever_server.observability.runtime import start_observability
from lakever_server.services import build_services
from lakever_server.zerocopy.protocol import ZeroCopyHttpToolsProtocol

log = logging.getLogger("lakever_server")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

QUICKSTART_BANNER = """\
lakever-server {version} quickstart: listening on http://{host}:{port}
  access key id:     {key_id}
  secret access key: {secret}
  data directory:    {data_dir}
"""


class GracefulServer(uvicorn.Server):
    """SIGTERM/SIGINT stop accepting, drain in-flight requests, then ``run`` returns.

    uvicorn re-raises the signal after draining, which would kill the process before
    the stores close; here ``run`` returns and the process exits 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakever-server", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the server in the foreground")
    run.add_argument("--config", help="YAML configuration file (default: $LAKEVER_CONFIG)")
    run.add_argument("--quickstart", action="store_true", help="embedded stores + demo admin")
    run.add_argument("--data-dir", help="data directory (default ~/.lakever)")
    run.add_argument("--host", help="listen address (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="listen port (default 8000)")
    migrate = commands.add_parser("migrate", help="upgrade the metadata store's schema")
    migrate.add_argument("--config", help="YAML configuration file (default: $LAKEVER_CONFIG)")
    migrate.add_argument("--data-dir", help="data directory (default ~/.lakever)")
    migrate.set_defaults(quickstart=False, host=None, port=None)
    add_gc_command(commands)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.quickstart:
        overrides["quickstart"] = True
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    listen = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if listen:
        overrides["listen"] = listen
    return overrides


def uvicorn_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    """How uvicorn serves ``app``: httptools, with zero-copy bodies (``os.sendfile``) for
    blob reads (``lakever_server.zerocopy``)."""
    return uvicorn.Config(
        app,
        host=settings.listen.host,
        port=settings.listen.port,
        http=ZeroCopyHttpToolsProtocol,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        timeout_graceful_shutdown=30,
        h11_max_incomplete_event_size=64 * 1024,
        log_config=None,  # configure_logging set every handler
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, _overrides(args))
    configure_logging(settings.log_level, settings.observability.log_format)
    services = build_services(settings)
    observability = start_observability(services)
    try:
        if settings.quickstart:
            print(
                QUICKSTART_BANNER.format(
                    version=__version__,
                    host=settings.listen.host,
                    port=settings.listen.port,
                    key_id=QUICKSTART_ACCESS_KEY_ID,
                    secret=QUICKSTART_SECRET_ACCESS_KEY,
                    data_dir=settings.data_path,
                ),
                flush=True,
            )
        app = observability.wrap(create_app(services))
        GracefulServer(uvicorn_config(settings, app)).run()
    finally:
        observability.close()
        services.close()
    log.info("lakever-server stopped")
    return 0


def migrate(args: argparse.Namespace) -> int:
    from lakever_server.storage.kv.migrations import upgrade

    settings = load_settings(args.config, _overrides(args))
    configure_logging(settings.log_level, settings.observability.log_format)
    revision = upgrade(settings.metadata_url)
    print(f"metadata store schema at revision {revision or '(none: in-memory store)'}")
    return 0


def gc(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, _overrides(args))
    configure_logging(settings.log_level, settings.observability.log_format)
    return run_gc(args, settings)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "gc":
            return gc(args)
        return migrate(args) if args.command == "migrate" else run(args)
    except LakeverError as err:
        print(f"lakever-server: {err.message}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print(f"lakever-server: invalid configuration: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
