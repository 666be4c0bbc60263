"""The UI's stable URLs, built in one place.

The Airflow provider's extra links point at the commit, object and compare pages, so
their shape is a public contract (``docs/ui.md``); templates and redirects build every
link through these functions.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

STATIC_PREFIX = "/ui/static/"
LOGIN = "/login"
LOGOUT = "/logout"
HOME = "/"


def _with_query(path: str, query: dict[str, str]) -> str:
    kept = {k: v for k, v in query.items() if v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


def repo_url(repository: str, section: str = "", **query: str) -> str:
    """``/repositories/<repo>[/<section>][?query]``."""
    path = f"/repositories/{quote(repository, safe='')}"
    if section:
        path += f"/{section}"
    return _with_query(path, query)


def commit_url(repository: str, commit_id: str) -> str:
    return repo_url(repository, f"commits/{quote(commit_id, safe='')}")


def commits_url(repository: str, ref: str, after: str = "") -> str:
    return repo_url(repository, "commits", ref=ref, after=after)


def objects_url(repository: str, ref: str, path: str = "") -> str:
    return repo_url(repository, "objects", ref=ref, path=path)


def download_url(repository: str, ref: str, path: str, *, inline: bool = False) -> str:
    query = {"ref": ref, "path": path}
    if inline:
        query["inline"] = "1"
    return repo_url(repository, "objects/download", **query)


def compare_url(repository: str, ref: str = "", compare: str = "") -> str:
    return repo_url(repository, "compare", ref=ref, compare=compare)


def changes_url(repository: str, ref: str) -> str:
    return repo_url(repository, "changes", ref=ref)


def login_url(next_path: str = "") -> str:
    return _with_query(LOGIN, {"next": next_path if next_path != HOME else ""})


def static_url(name: str) -> str:
    return STATIC_PREFIX + name


def is_ui_path(path: str) -> bool:
    """Whether the server's dispatcher should hand ``path`` to the UI."""
    return path in (HOME, LOGIN, LOGOUT, "/repositories") or path.startswith(
        ("/repositories/", "/ui/")
    )
