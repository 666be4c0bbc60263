"""``lakever-server run --quickstart`` with ``/webhdfs/`` routed to the WebHDFS app.

Until the server's dispatcher routes ``/webhdfs/`` itself, the WebHDFS tests run the
real services and REST API behind this thin router, in their own process:
``python -m tests.server.webhdfs.webhdfs_server --data-dir D --port P``.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from lakever_server.app import create_app
from lakever_server.config import load_settings
from lakever_server.services import build_services
from lakever_server.webhdfs import create_webhdfs_app


class Router:
    def __init__(self, services: Any) -> None:
        self.server = create_app(services)
        self.webhdfs = create_webhdfs_app(services)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/webhdfs/"):
            await self.webhdfs(scope, receive, send)
        else:
            await self.server(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = load_settings(None, {"quickstart": True, "data_dir": args.data_dir})
    services = build_services(settings)
    try:
        uvicorn.run(Router(services), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        services.close()


if __name__ == "__main__":
    main()
