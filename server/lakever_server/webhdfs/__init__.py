"""The WebHDFS gateway: ``/webhdfs/v1/<repo>/<branch>/<path>`` for Hadoop's built-in
``webhdfs://`` filesystem, so stock Spark reads and writes branches with no extra JAR.

``create_webhdfs_app(services)`` returns the ASGI app the server routes ``/webhdfs/`` to.
Modules: ``namespace`` (a filesystem view with implied directories), ``operations``
(the REST operations), ``oauth`` (token endpoint and bearer authentication), ``errors``
(``RemoteException`` JSON).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lakever_server.webhdfs.errors import INTERNAL, remote_exception
from lakever_server.webhdfs.namespace import Namespace, parse_location
from lakever_server.webhdfs.oauth import TOKEN_PATH, Caller, bearer_user, token_endpoint
from lakever_server.webhdfs.operations import WebHdfsRequest, choose

PREFIX = "/webhdfs/v1"
METHODS = ["GET", "PUT", "POST", "DELETE"]
log = logging.getLogger(__name__)


def create_webhdfs_app(services: Any) -> Starlette:
    """The WebHDFS ASGI app for ``services`` (a ``services.Services``)."""
    namespace = Namespace(services.catalog)

    async def token(request: Request) -> Response:
        return await token_endpoint(request, services)

    async def operation(request: Request) -> Response:
        caller = Caller(partial(bearer_user, request, services))
        try:
            try:
                path = unquote(request.scope["path"][len(PREFIX) :]) or "/"
                params = dict(request.query_params)
                location = parse_location(path)
                webhdfs_request = WebHdfsRequest(request, namespace, location, caller, params)
                response = await choose(request.method, params.get("op", ""))(webhdfs_request)
            finally:
                # Most operations authenticated in their first worker-thread call; the
                # others (and any that failed first) do it here: no unauthenticated answer.
                await caller.authenticate()
            return response
        except Exception as exc:
            response = remote_exception(exc)
            if response.status_code == INTERNAL.status:
                log.exception("WebHDFS request failed: %s %s", request.method, request.url.path)
            return response

    return Starlette(
        routes=[
            Route(TOKEN_PATH, token, methods=["POST"]),
            Route(PREFIX, operation, methods=METHODS),
            Route(PREFIX + "/{path:path}", operation, methods=METHODS),
        ]
    )
