"""The S3 gateway: path-style S3 over repositories (bucket) and refs (first key segment).

``create_gateway_app(services)`` returns the ASGI app that ``app.create_app`` routes
S3-signed requests to.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def _not_implemented(request: Request) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>'
        "<Message>the S3 gateway is not available yet</Message></Error>"
    )
    return Response(body, status_code=501, media_type="application/xml")


def create_gateway_app(services: Any) -> Starlette:
    """The S3 gateway ASGI app for ``services`` (a ``services.Services``)."""
    del services
    return Starlette(routes=[Route("/{path:path}", _not_implemented, methods=["GET", "PUT"])])
