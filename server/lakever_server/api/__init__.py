"""The lakeFS-compatible REST API under ``/api/v1``.

``create_api_app(services)`` builds the FastAPI app; ``app.create_app`` puts it behind the
dispatcher that sends S3-signed requests to the gateway. Routes are thin: parse, call the
catalog (or the auth service), shape the response; ``errors`` maps domain errors once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from lakever_server import __version__
from lakever_server.api.deps import current_user
from lakever_server.api.errors import install_error_handlers
from lakever_server.api.routes import (
    actions,
    auth,
    branches,
    commits,
    config,
    imports,
    objects,
    refs,
    repositories,
    setup,
    staging,
    tags,
)
from lakever_server.services import Services

API_PREFIX = "/api/v1"


class JsonBodyLimit:
    """Refuse JSON bodies declared larger than the limit before reading them (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            kind = headers.get(b"content-type", b"")
            length = headers.get(b"content-length", b"0")
            if kind.startswith(b"application/json") and (
                not length.isdigit() or int(length) > self.limit
            ):
                await _send_json(send, 413, b'{"message":"request body too large"}')
                return
        await self.app(scope, receive, send)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_api_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="lakever REST API (lakeFS-compatible)",
        version=__version__,
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.imports = imports.ImportJobs(services.kv)
    install_error_handlers(app)
    for module in (setup, auth, config):
        app.include_router(module.public, prefix=API_PREFIX)
    for router in (
        auth.router,
        config.router,
        repositories.router,
        branches.router,
        commits.router,
        refs.router,
        tags.router,
        objects.router,
        staging.router,
        imports.router,
        actions.router,
        _openapi_router(app),
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.add_middleware(JsonBodyLimit, limit=services.settings.limits.max_json_body_bytes)
    return app


def _openapi_router(app: FastAPI) -> APIRouter:
    router = APIRouter(tags=["openapi"], dependencies=[Depends(current_user)])

    @router.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    return router
