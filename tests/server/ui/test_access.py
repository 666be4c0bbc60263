"""Who may see what: no page or asset without a session, CSRF-checked forms, escaping."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lakever_server.ui.routing import routes
from tests.server.ui.ui_client import Lake, UiSession
from tests.support.server import RunningServer

# Every route of the UI with a concrete URL; a test below fails when a route is added
# to the UI without being listed here.
GET_PAGES = {
    "/": "/",
    "/repositories": "/repositories",
    "/logout": "/logout",
    "/ui/static/{name}": "/ui/static/ui.js",
    "/repositories/{repo}": "/repositories/guarded",
    "/repositories/{repo}/delete": "/repositories/guarded/delete",
    "/repositories/{repo}/branches": "/repositories/guarded/branches",
    "/repositories/{repo}/tags": "/repositories/guarded/tags",
    "/repositories/{repo}/objects": "/repositories/guarded/objects?ref=main&path=secret.txt",
    "/repositories/{repo}/objects/download": (
        "/repositories/guarded/objects/download?ref=main&path=secret.txt"
    ),
    "/repositories/{repo}/commits": "/repositories/guarded/commits?ref=main",
    "/repositories/{repo}/commits/{commit_id}": "/repositories/guarded/commits/main",
    "/repositories/{repo}/compare": "/repositories/guarded/compare?ref=main&compare=main",
    "/repositories/{repo}/changes": "/repositories/guarded/changes?ref=main",
}
POST_ACTIONS = {
    "/logout": "/logout",
    "/repositories": "/repositories",
    "/repositories/{repo}/delete": "/repositories/guarded/delete",
    "/repositories/{repo}/branches": "/repositories/guarded/branches",
    "/repositories/{repo}/branches/delete": "/repositories/guarded/branches/delete",
    "/repositories/{repo}/tags": "/repositories/guarded/tags",
    "/repositories/{repo}/tags/delete": "/repositories/guarded/tags/delete",
    "/repositories/{repo}/compare/merge": "/repositories/guarded/compare/merge",
    "/repositories/{repo}/changes/commit": "/repositories/guarded/changes/commit?ref=main",
    "/repositories/{repo}/changes/reset": "/repositories/guarded/changes/reset?ref=main",
}
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/ui/static/ui.css")}
HOSTILE_NAMES = [
    "<script>alert('x')</script>.txt",
    'quote"><img src=x onerror=alert(1)>.csv',
    "dir<b>/&amp;name.txt",
]


@pytest.fixture(scope="module")
def guarded(lake: Lake) -> str:
    repo = lake.repository("guarded")
    lake.put(repo, "main", "secret.txt", b"top secret bytes")
    lake.commit(repo, "main", "secret data")
    return repo


@pytest.fixture
def anonymous(lakever_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lakever_server.url, follow_redirects=False, timeout=30) as client:
        yield client


def test_every_ui_route_is_covered_by_the_anonymous_access_tests() -> None:
    declared = {(m, r.path) for r in routes() for m in r.methods or () if m != "HEAD"}
    listed = {("GET", p) for p in GET_PAGES} | {("POST", p) for p in POST_ACTIONS}
    assert declared == listed | {("GET", "/login"), ("POST", "/login")}


@pytest.mark.parametrize("route", sorted(GET_PAGES), ids=lambda r: f"GET {r}")
def test_anonymous_get_is_sent_to_login_and_shows_nothing(
    route: str, guarded: str, anonymous: httpx.Client
) -> None:
    url = GET_PAGES[route]
    response = anonymous.get(url)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert b"top secret" not in response.content
    if url != "/":
        next_url = httpx.URL(response.headers["location"]).params["next"]
        assert next_url == url


@pytest.mark.parametrize("route", sorted(POST_ACTIONS), ids=lambda r: f"POST {r}")
def test_anonymous_post_changes_nothing(
    route: str, guarded: str, anonymous: httpx.Client, lake: Lake
) -> None:
    head = lake.head(guarded, "main")
    response = anonymous.post(
        POST_ACTIONS[route],
        data={"name": "guarded", "confirm_name": "guarded", "ref": "main", "compare": "main"},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert lake.api.get(f"/repositories/{guarded}").status_code == 200
    assert lake.head(guarded, "main") == head


def test_a_forged_or_expired_session_cookie_is_sent_to_login(
    lakever_server: RunningServer, guarded: str
) -> None:
    client = httpx.Client(
        base_url=lakever_server.url, cookies={"internal_auth_session": "eyJhbGciOi.forged.x"}
    )
    response = client.get(f"/repositories/{guarded}/objects?ref=main")
    assert response.status_code == 303
    client.close()


def test_only_the_stylesheet_and_login_are_public(anonymous: httpx.Client) -> None:
    css = anonymous.get("/ui/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/ui/static/ui.js").status_code == 303
    assert anonymous.get("/ui/static/..%2Fsession.py").status_code == 404


def test_a_form_without_the_csrf_token_is_refused(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("csrf-target")
    ui.page(f"/repositories/{repo}/delete")
    response = ui.submit(f"/repositories/{repo}/delete", {"confirm_name": repo}, csrf=False)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert lake.api.get(f"/repositories/{repo}").status_code == 200


def test_a_csrf_token_from_another_session_is_refused(
    lakever_server: RunningServer, lake: Lake
) -> None:
    repo = lake.repository("csrf-other")
    mine = UiSession(lakever_server).login()
    theirs = UiSession(lakever_server).login(*lake.user_with_keys("other-user"))
    assert mine.csrf != theirs.csrf
    mine.csrf = theirs.csrf
    response = mine.submit(f"/repositories/{repo}/delete", {"confirm_name": repo})
    assert response.status_code == 403
    assert lake.api.get(f"/repositories/{repo}").status_code == 200
    mine.close()
    theirs.close()


def test_pages_forbid_framing_and_foreign_scripts(ui: UiSession) -> None:
    response = ui.get("/")
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_hostile_object_names_and_messages_are_escaped(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("hostile")
    for name in HOSTILE_NAMES:
        lake.put(repo, "main", name, b"<script>alert('body')</script>", "text/html")
    commit = lake.commit(repo, "main", "<img src=x onerror=alert('msg')>", {"<k>": "<v>"})
    pages = [
        ui.page(f"/repositories/{repo}/objects?ref=main"),
        ui.page(f"/repositories/{repo}/objects?ref=main&path=dir%3Cb%3E/"),
        ui.page(f"/repositories/{repo}/commits?ref=main"),
        ui.page(f"/repositories/{repo}/commits/{commit}"),
    ]
    pages += [
        ui.page(str(httpx.URL(f"/repositories/{repo}/objects", params={"ref": "main", "path": n})))
        for n in HOSTILE_NAMES
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>" not in page
        assert "<k>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/</a>" in pages[0]  # a folder: it has a "/"
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;.txt" in pages[4]
    assert "quote&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.csv" in pages[0]
    assert "&lt;img src=x onerror=alert(&#39;msg&#39;)&gt;" in pages[3]
    # Object content shown as text is escaped too, and downloads are never rendered.
    assert "&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;" in pages[4]
    download = ui.get(
        str(
            httpx.URL(
                f"/repositories/{repo}/objects/download",
                params={"ref": "main", "path": HOSTILE_NAMES[0], "inline": "1"},
            )
        )
    )
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"


def test_the_conflict_page_escapes_hostile_names_and_refuses_anonymous_readers(
    ui: UiSession, lake: Lake, anonymous: httpx.Client
) -> None:
    repo = lake.repository("hostile-conflict")
    for name in HOSTILE_NAMES:
        lake.put(repo, "main", name, b"base")
    lake.commit(repo, "main", "base")
    lake.branch(repo, "run")
    for name in HOSTILE_NAMES:
        lake.put(repo, "run", name, b"run side")
    lake.commit(repo, "run", "run")
    for name in HOSTILE_NAMES:
        lake.put(repo, "main", name, b"main side!")
    lake.commit(repo, "main", "main")
    url = f"/repositories/{repo}/compare?ref=main&compare=run"
    page = ui.page(url)
    assert "<strong>3</strong> conflicting paths" in page
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;.txt" in page
    assert "quote&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.csv" in page
    refused = anonymous.get(url)
    assert refused.status_code in (302, 303, 307)
    assert refused.headers["location"].startswith("/login")
    assert "script" not in refused.text
