"""Compare two refs (the diff, and a merge with a strategy), and the merge conflict page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.responses import Response

from lakever_server.catalog.models import Entry, MergeStrategy
from lakever_server.errors import InvalidValue, MergeConflict, NotFound
from lakever_server.ui import urls
from lakever_server.ui.pages import Page

PAGE_SIZE = 200
BRANCH_CHOICES = 1000
STRATEGIES = ("", "dest-wins", "source-wins")


def _branch_names(page: Page, repository: str) -> list[str]:
    listing = page.catalog.list_branches(repository, amount=BRANCH_CHOICES)
    return [branch.id for branch in listing.results]


def compare(page: Page) -> Response:
    """``?ref=<base>&compare=<other>``: what ``compare`` brings into ``ref``."""
    repo = page.catalog.get_repository(page.path_param("repo"))
    base = page.param("ref") or repo.default_branch
    other = page.param("compare")
    diff, next_after, merge_base = None, "", None
    if other:
        page_ = page.catalog.diff_refs(
            repo.id, base, other, diff_type="three_dot", after=page.param("after"),
            amount=PAGE_SIZE,
        )  # fmt: skip
        diff = page_.results
        next_after = page_.next_after if page_.has_more else ""
        merge_base = page.catalog.find_merge_base(repo.id, other, base)[0]
    return page.render(
        "compare.html",
        repo=repo,
        ref=base,
        section="compare",
        base=base,
        other=other,
        branches=_branch_names(page, repo.id),
        diff=diff,
        merge_base=merge_base,
        next_after=next_after,
        strategies=STRATEGIES,
    )


@dataclass(frozen=True)
class ConflictRow:
    path: str
    reason: str
    source_change: str
    destination_change: str
    source: Entry | None
    destination: Entry | None


def _stat(page: Page, repository: str, commit_id: str, path: str) -> Entry | None:
    try:
        return page.catalog.get_entry(repository, commit_id, path)
    except NotFound:
        return None


def merge(page: Page) -> Response:
    """Merge ``compare`` into the branch ``ref``; a conflict shows every conflicting path."""
    repo = page.catalog.get_repository(page.path_param("repo"))
    destination, source = page.field("ref"), page.field("compare")
    if not destination or not source:
        raise InvalidValue("choose both refs to merge")
    strategy = page.field("strategy")
    if strategy not in STRATEGIES:
        raise InvalidValue(f"unknown merge strategy {strategy!r}", field="strategy")
    destination = page.catalog.get_branch(repo.id, destination).id
    # Merge the exact commits shown, so conflict stats describe what was merged.
    _, source_commit, destination_commit = page.catalog.find_merge_base(
        repo.id, source, destination
    )
    try:
        result = page.catalog.merge(
            repo.id,
            source_commit,
            destination,
            page.user.id,
            message=page.field("message") or f"Merge '{source}' into '{destination}'",
            strategy=cast(MergeStrategy, strategy) if strategy else None,
        )
    except MergeConflict as conflict:
        rows = [
            ConflictRow(
                path=c.path,
                reason=c.reason,
                source_change=c.source or "",
                destination_change=c.destination or "",
                source=_stat(page, repo.id, source_commit, c.path),
                destination=_stat(page, repo.id, destination_commit, c.path),
            )
            for c in conflict.conflicts
        ]
        return page.render(
            "conflicts.html",
            status=409,
            repo=repo,
            ref=destination,
            section="compare",
            source=source,
            destination=destination,
            source_commit=source_commit,
            destination_commit=destination_commit,
            rows=rows,
            strategies=STRATEGIES,
        )
    return page.redirect(urls.commit_url(repo.id, result.reference))
