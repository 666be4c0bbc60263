"""Login with an access key pair (the API's credentials), logout, and static assets."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from lakever_server.errors import Unauthorized
from lakever_server.ui import urls
from lakever_server.ui.pages import Page, login_redirect, ui_state
from lakever_server.ui.session import (
    clear_session_cookie,
    safe_next,
    session_user,
    set_session_cookie,
)

STATIC_DIR = Path(__file__).parent.parent / "static"
# The stylesheet is public so the login page is styled; everything else needs a session.
PUBLIC_ASSETS = frozenset({"ui.css"})
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


async def login_form(request: Request) -> Response:
    state = ui_state(request)
    target = safe_next(request.query_params.get("next", "/"))
    if await run_in_threadpool(session_user, state.services.auth, request) is not None:
        return RedirectResponse(target, status_code=303)
    return state.render("login.html", user=None, next=target, error=None)


async def login(request: Request) -> Response:
    """Check the key pair with the auth service; on success the session cookie is set."""
    state = ui_state(request)
    form = await request.form()
    key_id, secret = str(form.get("access_key_id", "")), str(form.get("secret_access_key", ""))
    target = safe_next(str(form.get("next", "/")))
    try:
        session = await run_in_threadpool(state.services.auth.login, key_id.strip(), secret)
    except Unauthorized:
        return state.render(
            "login.html", status=401, user=None, next=target,
            error="Invalid access key ID or secret access key.",
        )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    auth_settings = state.services.settings.auth
    set_session_cookie(
        response,
        session.token,
        max_age=auth_settings.login_duration_seconds,
        secure=auth_settings.cookie_secure,
    )
    return response


def logout_form(page: Page) -> Response:
    return page.render("logout.html")


def logout(page: Page) -> Response:
    response = page.redirect(urls.LOGIN)
    clear_session_cookie(response)
    return response


async def static_asset(request: Request) -> Response:
    name: str = request.path_params["name"]
    path = STATIC_DIR / name
    if "/" in name or path.suffix not in ASSET_TYPES or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    if name not in PUBLIC_ASSETS:
        state = ui_state(request)
        if await run_in_threadpool(session_user, state.services.auth, request) is None:
            return login_redirect(request)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"}
    return FileResponse(path, media_type=ASSET_TYPES[path.suffix], headers=headers)
