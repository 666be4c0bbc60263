"""Server configuration as lakeFS clients read it, and the health check (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lakever_server import __version__
from lakever_server.api.deps import ServicesDep, current_user
from lakever_server.config import Settings
from lakever_server.observability.health import check_stores

public = APIRouter(tags=["config"])
router = APIRouter(tags=["config"], dependencies=[Depends(current_user)])

# lakeFS clients compare the server version numerically to pick features; we speak the
# API of this lakeFS release.
LAKEFS_API_VERSION = "1.88.0"

_NAMESPACE_EXAMPLES = {
    "local": ("local://my-repository", r"^local://"),
    "s3": ("s3://bucket/prefix", r"^s3://"),
    "memory": ("mem://my-repository", r"^mem://"),
}


def storage_config(settings: Settings) -> dict[str, Any]:
    kind = settings.blockstore.type
    example, regex = _NAMESPACE_EXAMPLES[kind]
    return {
        "blockstore_type": kind,
        "blockstore_namespace_example": example,
        "blockstore_namespace_ValidityRegex": regex,
        "default_namespace_prefix": settings.namespace_prefix,
        "pre_sign_support": False,
        "pre_sign_support_ui": False,
        "import_support": True,
        "import_validity_regex": regex,
        "pre_sign_multipart_upload": False,
    }


def version_config() -> dict[str, Any]:
    return {
        "version": LAKEFS_API_VERSION,
        "version_context": f"lakever-server {__version__}",
        "upgrade_recommended": False,
    }


@public.get("/healthcheck", status_code=204)
async def health_check(services: ServicesDep) -> Response:
    """204 when both stores answer a point read; 503 naming the store that did not."""
    if services.embedded_stores:
        health = check_stores(services)
    else:
        health = await run_in_threadpool(check_stores, services)
    if health.healthy:
        return Response(status_code=204)
    body = {"message": "a store is unavailable", **health.as_json()}
    return JSONResponse(body, status_code=503)


@router.get("/config")
async def get_config(services: ServicesDep) -> dict[str, Any]:
    storage = storage_config(services.settings)
    return {
        "version_config": version_config(),
        "storage_config": storage,
        "capabilities_config": {"async_ops": False},
    }


@router.get("/config/version")
async def get_lakefs_version() -> dict[str, Any]:
    return version_config()


@router.get("/config/storage")
async def get_storage_config(services: ServicesDep) -> dict[str, Any]:
    return storage_config(services.settings)
