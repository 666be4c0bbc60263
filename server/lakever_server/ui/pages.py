"""How a UI page runs: session check, CSRF check, catalog work in a thread, rendering.

A view is a plain synchronous function ``view(page: Page) -> Response``. ``endpoint``
wraps it into a Starlette endpoint that

- sends requests without a valid session to ``/login?next=<where they were going>``;
- for POSTs, reads the form and refuses it (403) unless its CSRF token belongs to the
  session;
- runs the view in the thread pool (catalog calls are synchronous and may block);
- turns domain errors into an error page with the status the REST API would give.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lakever_server import __version__
from lakever_server.auth import User
from lakever_server.catalog.interface import CatalogService
from lakever_server.errors import LakeverError, Unauthorized, http_status
from lakever_server.services import Services
from lakever_server.ui import formatting, urls
from lakever_server.ui.session import (
    CSRF_FIELD,
    check_csrf,
    csrf_token,
    session_token,
    session_user,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
View = Callable[["Page"], Response]
Endpoint = Callable[[Request], Awaitable[Response]]

# Pages show user data: no framing, no third-party anything, scripts from us only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    env.globals.update(
        repo_url=urls.repo_url,
        commit_url=urls.commit_url,
        commits_url=urls.commits_url,
        objects_url=urls.objects_url,
        download_url=urls.download_url,
        compare_url=urls.compare_url,
        changes_url=urls.changes_url,
        static_url=urls.static_url,
        metadata_links=formatting.metadata_links,
        airflow_link=formatting.airflow_link,
        version=__version__,
        csrf_field=CSRF_FIELD,
    )
    return env


@dataclass
class UiState:
    """What every page needs, shared by the UI app."""

    services: Services
    templates: Environment

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.templates.get_template(template).render(**values)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@dataclass
class Page:
    """One request to a view: who asks, what they sent, and how to answer."""

    request: Request
    state: UiState
    user: User
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def catalog(self) -> CatalogService:
        return self.state.services.catalog

    def param(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def path_param(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        return self.state.render(template, status=status, user=self.user, csrf=self.csrf, **values)

    @staticmethod
    def redirect(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def requested_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_redirect(request: Request) -> RedirectResponse:
    target = requested_path(request) if request.method == "GET" else "/"
    return RedirectResponse(urls.login_url(target), status_code=303)


def endpoint(view: View) -> Endpoint:
    """The Starlette endpoint running ``view`` for signed-in users (see module doc)."""

    async def run(request: Request) -> Response:
        state = ui_state(request)
        auth = state.services.auth
        user = await run_in_threadpool(session_user, auth, request)
        if user is None:
            return login_redirect(request)
        session = session_token(request)
        form: dict[str, str] = {}
        if request.method == "POST":
            data = await request.form()
            form = {k: v for k, v in data.items() if isinstance(v, str)}
            try:
                check_csrf(auth, session, form.get(CSRF_FIELD, ""))
            except Unauthorized as err:
                return state.render("error.html", status=403, user=user, csrf="", error=err)
        ttl = state.services.settings.auth.login_duration_seconds
        page = Page(request, state, user, csrf_token(auth, session, ttl), form)
        return await run_in_threadpool(_run_view, view, page)

    return run


def _run_view(view: View, page: Page) -> Response:
    try:
        return view(page)
    except LakeverError as error:
        return page.render("error.html", status=http_status(error), error=error)
