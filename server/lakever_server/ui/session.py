"""Sessions of the web UI: the API's session JWT in a cookie, and CSRF tokens tied to it.

The UI logs in through ``AuthService.login``, exactly like ``POST /api/v1/auth/login``,
and keeps the same JWT in the same cookie (``internal_auth_session``): one token scheme,
so a browser logged in to either one is logged in to both.

The UI's cookie is ``SameSite=Lax`` rather than the API's ``Strict``: the Airflow
provider's extra links are top-level navigations from another site, and a ``Strict``
cookie would not be sent with them, sending every click to the login page. State changes
are POSTs, which ``Lax`` never carries across sites, and which also need a CSRF token.

A CSRF token is the auth service's signed value over the session token, so it is valid
only with the session that rendered the form and expires with it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from lakever_server.auth import AuthService, User
from lakever_server.errors import InvalidValue, LakeverError, Unauthorized

SESSION_COOKIE = "internal_auth_session"  # the REST API's cookie (``api.deps``)
CSRF_FIELD = "csrf_token"
_CSRF_PURPOSE = "ui-csrf:"


def session_token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def session_user(auth: AuthService, request: Request) -> User | None:
    """The user of the request's session cookie, or ``None`` when absent or invalid."""
    token = session_token(request)
    if not token:
        return None
    try:
        return auth.authenticate_token(token)
    except LakeverError:
        return None


def csrf_token(auth: AuthService, session: str, ttl_seconds: int) -> str:
    """The token every form of this session carries."""
    return auth.signer.sign_value(_CSRF_PURPOSE + session, ttl_seconds)


def check_csrf(auth: AuthService, session: str, token: str) -> None:
    """``Unauthorized`` unless ``token`` was issued for this very session."""
    if not session or not token:
        raise Unauthorized("missing CSRF token")
    try:
        auth.signer.verify_value(_CSRF_PURPOSE + session, token)
    except InvalidValue as err:
        raise Unauthorized("invalid CSRF token") from err


def set_session_cookie(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def safe_next(target: str) -> str:
    """Where to go after login: a path on this server only (no open redirect)."""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return "/"
    return target
