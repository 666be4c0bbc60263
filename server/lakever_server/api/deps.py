"""Request dependencies: services, the authenticated user, paging and path checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.requests import cookie_parser

from lakever_server.auth import AuthService, User
from lakever_server.catalog.interface import CatalogService
from lakever_server.errors import InvalidValue, Unauthorized
from lakever_server.services import Services

SESSION_COOKIE = "internal_auth_session"
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100
MAX_PATH_BYTES = 1024


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_catalog(request: Request) -> CatalogService:
    return get_services(request).catalog


async def get_auth(request: Request) -> AuthService:
    return get_services(request).auth


def authenticate(auth: AuthService, request: Request) -> User:
    """The caller, from Basic (access key:secret), Bearer JWT or the session cookie."""
    headers = request.headers
    return authenticate_headers(auth, headers.get("authorization"), headers.get("cookie"))


def authenticate_headers(auth: AuthService, authorization: str | None, cookie: str | None) -> User:
    """``authenticate`` given the ``Authorization`` and ``Cookie`` header values."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            return auth.authenticate_basic(value)
        if scheme.lower() == "bearer" and value.strip():
            return auth.authenticate_token(value.strip())
        raise Unauthorized("unsupported authorization scheme")
    session = cookie_parser(cookie).get(SESSION_COOKIE) if cookie else None
    if session:
        return auth.authenticate_token(session)
    raise Unauthorized("authentication required")


async def current_user(request: Request) -> User:
    """The authenticated caller; every route but the public ones depends on it."""
    return authenticate(get_services(request).auth, request)


ServicesDep = Annotated[Services, Depends(get_services)]
CatalogDep = Annotated[CatalogService, Depends(get_catalog)]
AuthDep = Annotated[AuthService, Depends(get_auth)]
UserDep = Annotated[User, Depends(current_user)]

Prefix = Annotated[str, Query(description="return items prefixed with this value")]
After = Annotated[str, Query(description="return items after this value")]
Amount = Annotated[int, Query(description="how many items to return (at most 1000)")]


def page_size(amount: int) -> int:
    """lakeFS semantics: non-positive means the default, anything above 1000 is 1000."""
    if amount <= 0:
        return DEFAULT_PER_PAGE
    return min(amount, MAX_PER_PAGE)


def check_path(path: str, field: str = "path") -> str:
    """Refuse object paths that are empty, too long, absolute, or have NUL or ``..``.

    Paths are keys, not files, but clients map them onto file systems (fsspec, the S3
    gateway's callers), so traversal-looking keys are refused at the edge.
    """
    if not path:
        raise InvalidValue(f"{field} is required", field=field)
    if "\x00" in path:
        raise InvalidValue(f"{field} contains a NUL character", field=field)
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidValue(f"{field} is longer than {MAX_PATH_BYTES} bytes", field=field)
    if path.startswith("/"):
        raise InvalidValue(f"{field} must be relative (no leading '/')", field=field)
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidValue(f"{field} must not contain '.' or '..' segments", field=field)
    return path


def check_prefix(prefix: str, field: str = "prefix") -> str:
    """Like ``check_path`` but an empty prefix (everything) is fine."""
    return check_path(prefix, field) if prefix else prefix
