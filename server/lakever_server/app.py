"""The server's ASGI entry point: one dispatcher in front of the REST API and S3 gateway.

A request carrying S3 authentication (an ``AWS4-HMAC-SHA256`` or ``AWS <key>:<sig>``
``Authorization`` header, or presigned-URL query parameters) goes to the S3 gateway;
the web UI's paths (``/``, ``/login``, ``/repositories/...``, ``/ui/...``) go to the UI;
everything else goes to the FastAPI app serving ``/api/v1``.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from lakever_server.api import create_api_app
from lakever_server.api.fastpath import ObjectReadFastPath
from lakever_server.gateway import create_gateway_app
from lakever_server.services import Services
from lakever_server.ui import create_ui_app, is_ui_path
from lakever_server.webhdfs import create_webhdfs_app


def is_s3_request(scope: Scope) -> bool:
    """Whether the request is signed the way S3 clients sign (header or presigned URL)."""
    return signed_for_s3(_header_facts(scope)[1], scope.get("query_string", b""))


def signed_for_s3(authorization: bytes | None, query: bytes) -> bool:
    """Whether a request with this ``Authorization`` header (``None``: none) and query
    string is signed the way S3 clients sign."""
    if authorization is not None:
        return authorization.startswith((b"AWS4-HMAC-SHA256 ", b"AWS "))
    if b"X-Amz-" not in query and b"AWSAccessKeyId" not in query:
        return False
    params = parse_qs(query.decode("latin-1"))
    if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params:
        return True
    return "AWSAccessKeyId" in params and "Signature" in params


def _header_facts(scope: Scope) -> tuple[int, bytes | None]:
    """The headers' total size and the first ``Authorization``, in one pass (per request)."""
    size, authorization = 0, None
    for name, value in scope.get("headers", ()):
        size += len(name) + len(value)
        if authorization is None and name == b"authorization":
            authorization = value
    return size, authorization


async def _reject_headers(send: Send) -> None:
    # The HTTP parser accepts any header size; refuse big ones before any app sees them.
    body = b'{"message":"request headers too large"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 431, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LakeverApp:
    """Routes each HTTP request to ``gateway`` or ``api``; lifespan events go to both."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.api: FastAPI = create_api_app(services)
        self.gateway: ASGIApp = create_gateway_app(services)
        self.max_header_bytes = services.settings.limits.max_header_bytes
        self.fast_path = ObjectReadFastPath(services)
        self.ui: ASGIApp = create_ui_app(services)
        self.webhdfs: ASGIApp = create_webhdfs_app(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and is_s3_request(scope):
                await self.gateway(scope, receive, send)
            else:
                await self.api(scope, receive, send)
            return
        size, authorization = _header_facts(scope)
        if size > self.max_header_bytes:
            await _reject_headers(send)
        elif signed_for_s3(authorization, scope.get("query_string", b"")):
            await self.gateway(scope, receive, send)
        elif scope["path"].startswith("/webhdfs/"):
            await self.webhdfs(scope, receive, send)
        elif await self.fast_path.handle(scope, receive, send):
            return
        elif is_ui_path(scope["path"]):
            await self.ui(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(services: Services) -> LakeverApp:
    return LakeverApp(services)
