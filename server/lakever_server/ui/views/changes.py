"""A branch's uncommitted changes, with commit and reset."""

from __future__ import annotations

from starlette.responses import Response

from lakever_server.errors import InvalidValue
from lakever_server.ui import urls
from lakever_server.ui.pages import Page

PAGE_SIZE = 200


def _branch(page: Page) -> tuple[str, str]:
    repo = page.catalog.get_repository(page.path_param("repo"))
    branch = page.param("ref") or page.field("ref") or repo.default_branch
    return repo.id, page.catalog.get_branch(repo.id, branch).id


def changes(page: Page) -> Response:
    repository, branch = _branch(page)
    diff = page.catalog.diff_uncommitted(
        repository, branch, after=page.param("after"), amount=PAGE_SIZE
    )
    return page.render(
        "changes.html",
        repo=page.catalog.get_repository(repository),
        ref=branch,
        section="changes",
        changes=diff.results,
        next_after=diff.next_after if diff.has_more else "",
    )


def parse_metadata(text: str) -> dict[str, str]:
    """``key=value`` lines (blank lines ignored) as commit metadata."""
    metadata: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(f"metadata line {number} is not key=value", field="metadata")
        metadata[key.strip()] = value.strip()
    return metadata


def commit(page: Page) -> Response:
    repository, branch = _branch(page)
    message = page.field("message")
    if not message:
        raise InvalidValue("a commit message is required", field="message")
    made = page.catalog.commit(
        repository,
        branch,
        message,
        page.user.id,
        metadata=parse_metadata(page.form.get("metadata", "")),
    )
    return page.redirect(urls.commit_url(repository, made.id))


def reset(page: Page) -> Response:
    repository, branch = _branch(page)
    page.catalog.reset_branch(repository, branch)
    return page.redirect(urls.changes_url(repository, branch))
