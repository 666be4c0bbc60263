"""The S3 gateway: path-style S3 over repositories (bucket) and refs (first key segment).

``create_gateway_app(services)`` returns the ASGI app that ``app.create_app`` routes
S3-signed requests to. Modules: ``sigv4``/``sigv2`` (signatures), ``payload`` (bodies,
aws-chunked, checksums), ``authentication``, ``router`` (dispatch and the one error
mapping of ``errors``), ``listing``, ``objects``, ``multipart``, ``xml``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lakever_server.gateway.router import handle

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]


def create_gateway_app(services: Any) -> Starlette:
    """The S3 gateway ASGI app for ``services`` (a ``services.Services``)."""

    async def endpoint(request: Request) -> Response:
        return await handle(request, services)

    return Starlette(
        routes=[
            Route("/", endpoint, methods=METHODS),
            Route("/{path:path}", endpoint, methods=METHODS),
        ]
    )
