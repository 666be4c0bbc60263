"""The web UI, served by the server itself: server-rendered HTML over the catalog.

``create_ui_app(services)`` builds a Starlette app; the server's dispatcher
(``app.LakeverApp``) hands it every path ``urls.is_ui_path`` accepts. Pages are Jinja2
templates with a hand-written stylesheet and one small script; there is no front-end
build. The UI is a client of the catalog and of the auth service (the API's session
cookie); it never touches the stores. Stable URLs are documented in ``docs/ui.md``.

- ``session``: the session cookie and CSRF tokens;
- ``pages``: how a view runs (session, CSRF, thread pool, error page);
- ``views``: one module per kind of page; ``preview``: text/image/CSV/Parquet previews;
- ``urls`` and ``formatting``: links and filters the templates use.
"""

from __future__ import annotations

from lakever_server.ui.routing import create_ui_app
from lakever_server.ui.urls import is_ui_path

__all__ = ["create_ui_app", "is_ui_path"]
