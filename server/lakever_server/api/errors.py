"""The one place domain errors become lakeFS JSON errors: ``{"message": ...}`` + status.

The status of each error kind comes from ``errors.http_status``; this module shapes the
body and headers (protected-branch wording, merge conflicts, ``Content-Range``, ...).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakever_server import errors

log = logging.getLogger(__name__)
PROTECTED_BRANCH_MESSAGE = "cannot write to protected branch"


def error_response(error: errors.LakeverError) -> JSONResponse:
    status = errors.http_status(error)
    body: dict[str, object] = {"message": error.message}
    if isinstance(error, errors.ProtectedBranch):
        # lakeFS's exact wording: clients match on it.
        body["message"] = PROTECTED_BRANCH_MESSAGE
    headers: dict[str, str] = {}
    if isinstance(error, errors.MergeConflict):
        body["conflicts"] = [
            {"path": c.path, "reason": c.reason, "source": c.source, "destination": c.destination}
            for c in error.conflicts
        ]
    elif isinstance(error, errors.RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{error.size}"
    elif isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="lakever"'
    elif isinstance(error, errors.TooManyRequests):
        headers["Retry-After"] = "1"
    if status == 500:
        log.error("unmapped domain error %s: %s", type(error).__name__, error.message)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return "invalid request: " + "; ".join(parts)


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.LakeverError)
    return error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"message": _validation_message(exc)}, status_code=400)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse({"message": message}, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.LakeverError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
