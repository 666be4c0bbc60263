"""The commit log of a ref, and one commit with its metadata and its diff."""

from __future__ import annotations

from starlette.responses import Response

from lakever_server.ui.formatting import AIRFLOW_TASK_URL
from lakever_server.ui.pages import Page

LOG_PAGE_SIZE = 50
DIFF_PAGE_SIZE = 200


def commit_log(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    ref = page.param("ref") or repo.default_branch
    log = page.catalog.log(repo.id, ref, after=page.param("after"), amount=LOG_PAGE_SIZE)
    return page.render(
        "commits.html",
        repo=repo,
        ref=ref,
        section="commits",
        commits=log.results,
        # Shown as the link to the Airflow task, not repeated as text.
        hidden_keys=(AIRFLOW_TASK_URL, "lakever.idempotency_key"),
        next_after=log.next_after if log.has_more else "",
    )


def commit_page(page: Page) -> Response:
    """A commit and what it changed compared to its first parent."""
    repo = page.catalog.get_repository(page.path_param("repo"))
    commit = page.catalog.get_commit(repo.id, page.path_param("commit_id"))
    diff = None
    if commit.parents:
        diff = page.catalog.diff_refs(
            repo.id,
            commit.parents[0],
            commit.id,
            diff_type="two_dot",
            after=page.param("after"),
            amount=DIFF_PAGE_SIZE,
        )
    return page.render(
        "commit.html",
        repo=repo,
        ref=commit.id,
        section="commits",
        commit=commit,
        diff=diff.results if diff else [],
        next_after=diff.next_after if diff and diff.has_more else "",
    )
