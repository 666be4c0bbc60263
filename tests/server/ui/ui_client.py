"""A browser-like HTTP client of the web UI, and REST helpers to set up repositories.

``UiSession`` logs in through the login form (the quickstart keys), keeps the session
cookie, reads the CSRF token from a page's forms and posts forms the way a browser does.
``Lake`` makes repositories, objects, commits and branches through the REST API, so the
UI tests only exercise the UI.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.support.server import RunningServer

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def followed_link(server: RunningServer, link: str) -> str:
    """The HTML a logged-in user gets by following ``link``, a full URL into the UI (as
    an Airflow extra link hands it over)."""
    ui = UiSession(server).login()
    try:
        return ui.page(link.removeprefix(server.url))
    finally:
        ui.close()


class UiSession:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30.0)
        self.csrf = ""

    def login(self, access_key_id: str = "", secret_access_key: str = "") -> UiSession:
        response = self.http.post(
            "/login",
            data={
                "access_key_id": access_key_id or self.server.access_key_id,
                "secret_access_key": secret_access_key or self.server.secret_access_key,
                "next": "/",
            },
        )
        assert response.status_code == 303, response.text
        self.page("/")
        return self

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(url, **kwargs)

    def page(self, url: str, status: int = 200) -> str:
        """The HTML of a page (remembering its CSRF token), checking its status."""
        response = self.http.get(url)
        assert response.status_code == status, f"{url}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("text/html")
        found = CSRF_INPUT.search(response.text)
        if found:
            self.csrf = html.unescape(found.group(1))
        return response.text

    def submit(self, url: str, data: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        """POST a form as a browser would, with this session's CSRF token."""
        form = dict(data)
        if csrf:
            form["csrf_token"] = self.csrf
        return self.http.post(url, data=form)

    def close(self) -> None:
        self.http.close()


class Lake:
    """Set-up through the REST API (Basic auth with the quickstart keys)."""

    def __init__(self, server: RunningServer) -> None:
        self.api = server.http()

    def _ok(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code < 300, f"{response.request.url}: {response.text}"
        return response

    def repository(self, name: str) -> str:
        body = {"name": name, "storage_namespace": f"local://{name}", "default_branch": "main"}
        self._ok(self.api.post("/repositories", json=body))
        return name

    def branch(self, repo: str, name: str, source: str = "main") -> None:
        body = {"name": name, "source": source}
        self._ok(self.api.post(f"/repositories/{repo}/branches", json=body))

    def put(self, repo: str, branch: str, path: str, data: bytes, content_type: str = "") -> None:
        headers = {"content-type": content_type or "application/octet-stream"}
        url = f"/repositories/{repo}/branches/{branch}/objects"
        self._ok(self.api.post(url, params={"path": path}, content=data, headers=headers))

    def commit(
        self, repo: str, branch: str, message: str, metadata: dict[str, str] | None = None
    ) -> str:
        body = {"message": message, "metadata": metadata or {}}
        response = self._ok(
            self.api.post(f"/repositories/{repo}/branches/{branch}/commits", json=body)
        )
        commit_id: str = response.json()["id"]
        return commit_id

    def head(self, repo: str, branch: str) -> str:
        response = self._ok(self.api.get(f"/repositories/{repo}/branches/{branch}"))
        commit_id: str = response.json()["commit_id"]
        return commit_id

    def user_with_keys(self, user_id: str) -> tuple[str, str]:
        """A new user and its access key pair."""
        self._ok(self.api.post("/auth/users", json={"id": user_id}))
        keys = self._ok(self.api.post(f"/auth/users/{user_id}/credentials")).json()
        return keys["access_key_id"], keys["secret_access_key"]

    def protect(self, repo: str, pattern: str) -> None:
        url = f"/repositories/{repo}/settings/branch_protection"
        self._ok(self.api.put(url, json=[{"pattern": pattern}]))

    def read(self, repo: str, ref: str, path: str) -> httpx.Response:
        return self.api.get(f"/repositories/{repo}/refs/{ref}/objects", params={"path": path})

    def close(self) -> None:
        self.api.close()
