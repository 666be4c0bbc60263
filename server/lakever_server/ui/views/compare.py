"""Compare two refs: the diff, a dry-run merge (clean, or every conflict with both sides'
stats) and the merge form; and the answer of a merge that conflicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from starlette.responses import Response

from lakever_server.catalog.models import Entry, MergeStrategy
from lakever_server.errors import ConflictingPath, InvalidValue, MergeConflict, NotFound
from lakever_server.ui import urls
from lakever_server.ui.pages import Page

PAGE_SIZE = 200
MAX_CONFLICT_ROWS = 1000  # rows with stats shown; the count always covers every conflict
BRANCH_CHOICES = 1000
STRATEGIES = ("", "dest-wins", "source-wins")


def _branch_names(page: Page, repository: str) -> list[str]:
    listing = page.catalog.list_branches(repository, amount=BRANCH_CHOICES)
    return [branch.id for branch in listing.results]


def compare(page: Page) -> Response:
    """``?ref=<base>&compare=<other>``: what ``compare`` brings into ``ref``.

    When ``ref`` is a branch, a dry-run merge says whether ``compare`` merges cleanly
    (and how many changes) or lists every conflicting path with both sides' stats: the
    same page answers "can I merge?" and "why not?" at a URL anyone can open again.
    """
    repo = page.catalog.get_repository(page.path_param("repo"))
    base = page.param("ref") or repo.default_branch
    other = page.param("compare")
    diff, next_after, merge_base, preview, rows = None, "", None, None, []
    if other:
        page_ = page.catalog.diff_refs(
            repo.id, base, other, diff_type="three_dot", after=page.param("after"),
            amount=PAGE_SIZE,
        )  # fmt: skip
        diff = page_.results
        next_after = page_.next_after if page_.has_more else ""
        # ``branch$`` diverged where its branch did (its head commit).
        merge_base = page.catalog.find_merge_base(repo.id, other.removesuffix("$"), base)[0]
        if _is_branch(page, repo.id, base) and not other.endswith("$"):
            # ``branch$`` shows uncommitted changes in the diff; only commits merge.
            preview = page.catalog.preview_merge(repo.id, other, base)
            rows = _conflict_rows(
                page, repo.id, preview.conflicts, preview.source, preview.destination
            )
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
        preview=preview,
        rows=rows,
        strategies=STRATEGIES,
    )


def _is_branch(page: Page, repository: str, ref: str) -> bool:
    try:
        page.catalog.get_branch(repository, ref)
    except (NotFound, InvalidValue):
        return False
    return True


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


def _conflict_rows(
    page: Page,
    repository: str,
    conflicts: Sequence[ConflictingPath],
    source_commit: str,
    destination_commit: str,
) -> list[ConflictRow]:
    """The first ``MAX_CONFLICT_ROWS`` conflicts with each side's stats at the exact
    commits merged."""
    return [
        ConflictRow(
            path=c.path,
            reason=c.reason,
            source_change=c.source or "",
            destination_change=c.destination or "",
            source=_stat(page, repository, source_commit, c.path),
            destination=_stat(page, repository, destination_commit, c.path),
        )
        for c in conflicts[:MAX_CONFLICT_ROWS]
    ]


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
        rows = _conflict_rows(page, repo.id, conflict.conflicts, source_commit, destination_commit)
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
            total=len(conflict.conflicts),
            strategies=STRATEGIES,
        )
    return page.redirect(urls.commit_url(repo.id, result.reference))
