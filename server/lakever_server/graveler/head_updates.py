"""Operations that build a new tree and move a branch head to a commit of it.

Merge, revert, cherry-pick and bulk import share one shape (``commit_tree``): read the
branch record, build a tree from its head, store a commit, compare-and-set the branch
from the exact record read; on a lost race, rebuild from the new head (bounded). The
staging token stays as it was, so writes staged meanwhile stay staged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from lakever_server.errors import (
    DirtyBranch,
    InvalidValue,
    NoChanges,
    PreconditionFailed,
    TooManyRequests,
)
from lakever_server.graveler import commits, merge
from lakever_server.graveler.commits import CommitRequest
from lakever_server.graveler.model import BranchRecord, CommitRecord
from lakever_server.graveler.repository import MAX_CAS_ATTEMPTS, RepositoryContext
from lakever_server.graveler.staging import merge_newest_first

Build = Callable[[BranchRecord], tuple[str, list[str]]]
"""From the branch record read: the new tree's root and the new commit's parents."""


def commit_tree(
    ctx: RepositoryContext,
    branch: str,
    request: CommitRequest,
    build: Build,
    *,
    require_clean: bool = True,
) -> CommitRecord:
    """Commit ``build(branch)`` and move the head to it by compare-and-set."""
    for _ in range(MAX_CAS_ATTEMPTS):
        raw, record = ctx.read_branch(branch)
        if require_clean and not ctx.staging.is_empty(record.tokens):
            raise DirtyBranch(f"branch {branch} has uncommitted changes")
        root, parents = build(record)
        if root == ctx.root_of(record.commit_id) and not request.allow_empty:
            raise NoChanges(f"no changes to commit on {branch}")
        commit = commits.new_commit(ctx, parents, root, request)
        try:
            ctx.refs.set_branch_if(ctx.repo, branch, record.with_changes(commit_id=commit.id), raw)
        except PreconditionFailed:
            continue
        return commit
    raise TooManyRequests(f"branch {branch} is changing too fast; retry")


def merge_into(
    ctx: RepositoryContext,
    source: str,
    destination: str,
    request: CommitRequest,
    *,
    strategy: str | None,
    squash: bool,
) -> tuple[CommitRecord, dict[str, int]]:
    """Three-way merge of commit ``source`` into ``destination``; always a new commit."""
    summary: dict[str, int] = {}

    def build(dest: BranchRecord) -> tuple[str, list[str]]:
        base = commits.merge_base(ctx, source, dest.commit_id)
        outcome = merge.three_way_merge(
            ctx.tree,
            ctx.root_of(base),
            ctx.root_of(source),
            ctx.root_of(dest.commit_id),
            strategy,
        )
        summary.clear()
        summary.update(outcome.summary)
        return outcome.root, [dest.commit_id] if squash else [dest.commit_id, source]

    return commit_tree(ctx, destination, request, build), summary


def parent_root(ctx: RepositoryContext, commit: CommitRecord, parent_number: int) -> str:
    """The tree of the parent that a revert or cherry-pick compares ``commit`` with."""
    parents = commit.parents
    if len(parents) > 1 and parent_number == 0:
        raise InvalidValue(
            f"commit {commit.id} is a merge commit: parent_number is required",
            field="parent_number",
        )
    if parent_number < 0 or parent_number > max(len(parents), 1):
        raise InvalidValue(
            f"parent_number {parent_number} out of range: commit has {len(parents)} parents",
            field="parent_number",
        )
    if not parents:
        return ctx.tree.build(())  # also stores the empty root if a bare repo lacks it
    return ctx.root_of(parents[max(parent_number, 1) - 1])


def revert_commits(
    ctx: RepositoryContext,
    branch: str,
    targets: Sequence[CommitRecord],
    request: CommitRequest,
    parent_number: int,
) -> CommitRecord:
    """Undo ``targets`` newest first, each as ``merge(base=C, source=parent, dest=head)``."""
    ordered = sorted(targets, key=lambda c: (c.generation, c.creation_date), reverse=True)
    bases = [(c.meta_range_id, parent_root(ctx, c, parent_number)) for c in ordered]

    def build(head: BranchRecord) -> tuple[str, list[str]]:
        root = ctx.root_of(head.commit_id)
        for changed, parent in bases:
            root = merge.three_way_merge(ctx.tree, changed, parent, root).root
        return root, [head.commit_id]

    return commit_tree(ctx, branch, request, build)


def cherry_pick_commit(
    ctx: RepositoryContext,
    branch: str,
    target: CommitRecord,
    request: CommitRequest,
    parent_number: int,
) -> CommitRecord:
    """Apply ``target``'s change: ``merge(base=parent, source=target, dest=head)``."""
    base = parent_root(ctx, target, parent_number)

    def build(head: BranchRecord) -> tuple[str, list[str]]:
        root = ctx.root_of(head.commit_id)
        return merge.three_way_merge(ctx.tree, base, target.meta_range_id, root).root, [
            head.commit_id
        ]

    return commit_tree(ctx, branch, request, build)


def import_onto(
    ctx: RepositoryContext,
    branch: str,
    items: Callable[[], Iterable[tuple[bytes, bytes]]],
    request: CommitRequest,
) -> CommitRecord:
    """Commit sorted, unique ``items`` over the head tree in one streaming build.

    ``Tree.build`` runs over the items merged into the head tree (no staging round
    trip); staged changes stay staged. ``items`` is a factory so a lost race can rebuild.
    """

    def build(head: BranchRecord) -> tuple[str, list[str]]:
        merged = merge_newest_first([items(), ctx.tree.iterate(ctx.root_of(head.commit_id))])
        root = ctx.tree.build((k, v) for k, v in merged if v is not None)
        return root, [head.commit_id]

    return commit_tree(ctx, branch, request, build, require_clean=False)
