"""Commits: the commit flow, the log, and the merge base.

The commit flow is lakeFS's, lock-free and crash-safe at every step:

1. *seal*: compare-and-set the branch so a fresh empty token becomes current and the
   old one joins ``sealed_tokens``; writes from now on land in the new token;
2. *build*: apply the sorted merge of the sealed tokens to the head commit's tree
   (only the touched nodes are written: one pack in the block store, then their index
   rows in the metadata store);
3. *record*: store the commit under its content hash;
4. *move*: compare-and-set the branch to the new commit, dropping exactly the sealed
   tokens this commit includes (newer tokens stay);
5. *clean*: drop the committed tokens' partitions (in the background).

A crash after 1 leaves sealed tokens that reads still see and the next commit includes;
during 2, a pack not yet indexed; after 2 or 3, unreferenced packs, index rows or commit
records that nothing reads; after 4, orphan partitions. Each leaves the repository
consistent.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from lakever_server.errors import Conflict, NoChanges, NotFound, TooManyRequests
from lakever_server.graveler.model import BranchRecord, CommitRecord
from lakever_server.graveler.repository import MAX_CAS_ATTEMPTS, RepositoryContext
from lakever_server.graveler.staging import new_token
from lakever_server.storage.kv.base import prefix_end


@dataclass(frozen=True)
class CommitRequest:
    committer: str
    message: str
    metadata: dict[str, str]
    date: int | None = None
    allow_empty: bool = False


def new_commit(
    ctx: RepositoryContext, parents: Sequence[str], root: str, request: CommitRequest
) -> CommitRecord:
    """Store a commit on ``parents`` with tree ``root``; generation = max(parents) + 1."""
    generation = max((ctx.commit(p).generation for p in parents), default=0) + 1
    record = CommitRecord(
        parents=tuple(parents),
        committer=request.committer,
        message=request.message,
        creation_date=int(time.time()) if request.date is None else int(request.date),
        meta_range_id=root,
        metadata=dict(request.metadata),
        generation=generation,
    )
    return ctx.refs.put_commit(ctx.repo, record)


def commit_branch(ctx: RepositoryContext, branch: str, request: CommitRequest) -> CommitRecord:
    """Commit the branch's staged changes (see the module docstring for the flow).

    If another process commits the branch meanwhile, its commit includes our sealed
    tokens (a commit takes every sealed token, oldest first, so values keep their
    order); we then retry on its head, and find ``NoChanges`` if it took everything.
    """
    raced = False
    for _ in range(MAX_CAS_ATTEMPTS):
        _, current = ctx.read_branch(branch)
        if not request.allow_empty and ctx.staging.is_empty(current.tokens):
            detail = " (a concurrent commit included them)" if raced else ""
            raise NoChanges(f"commit: no changes{detail}")
        _, sealed = ctx.update_branch(branch, _seal)
        committed_tokens = sealed.sealed_tokens
        head = sealed.commit_id
        head_root = ctx.root_of(head)
        root = ctx.tree.apply(head_root, ctx.staging.changes(committed_tokens))
        if root == head_root and not request.allow_empty:
            if _drop_committed(ctx, branch, head, committed_tokens):
                raise NoChanges("commit: no changes")
            raced = True
            continue
        commit = new_commit(ctx, [head], root, request)
        try:
            ctx.update_branch(
                branch,
                partial(_advance, head=head, commit_id=commit.id, committed=committed_tokens),
            )
        except _HeadMoved:
            raced = True
            continue
        ctx.staging.drop_later(committed_tokens)
        return commit
    raise TooManyRequests(f"branch {branch} is changing too fast; retry the commit")


class _HeadMoved(Conflict):
    """The branch head changed between sealing and moving it."""


def _seal(branch: BranchRecord) -> BranchRecord:
    return branch.with_changes(
        staging_token=new_token(), sealed_tokens=(branch.staging_token, *branch.sealed_tokens)
    )


def _advance(
    branch: BranchRecord, head: str, commit_id: str, committed: tuple[str, ...]
) -> BranchRecord:
    """Move the head to ``commit_id`` and drop the committed tokens (the oldest ones)."""
    tail = branch.sealed_tokens[len(branch.sealed_tokens) - len(committed) :]
    if branch.commit_id != head or tail != committed:
        raise _HeadMoved("branch changed during commit")
    return branch.with_changes(
        commit_id=commit_id,
        sealed_tokens=branch.sealed_tokens[: len(branch.sealed_tokens) - len(committed)],
    )


def _drop_committed(
    ctx: RepositoryContext, branch: str, head: str, committed: tuple[str, ...]
) -> bool:
    """Forget sealed tokens that turned out to change nothing; False if the head moved."""
    try:
        ctx.update_branch(branch, partial(_advance, head=head, commit_id=head, committed=committed))
    except _HeadMoved:
        return False
    ctx.staging.drop(committed)
    return True


# -- the log --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    first_parent: bool = False
    objects: Sequence[bytes] = ()
    prefixes: Sequence[bytes] = ()
    since: int | None = None
    stop_at: str | None = None


def walk(ctx: RepositoryContext, start: str, first_parent: bool = False) -> Iterator[CommitRecord]:
    """Commits reachable from ``start``, newest first: by generation, then date, then id."""
    queue: list[tuple[int, int, str, CommitRecord]] = []
    seen = {start}
    first = ctx.commit(start)
    heapq.heappush(queue, (-first.generation, -first.creation_date, first.id, first))
    while queue:
        commit = heapq.heappop(queue)[3]
        yield commit
        parents = commit.parents[:1] if first_parent else commit.parents
        for parent_id in parents:
            if parent_id in seen:
                continue
            seen.add(parent_id)
            parent = ctx.commit(parent_id)
            heapq.heappush(queue, (-parent.generation, -parent.creation_date, parent.id, parent))


def log(ctx: RepositoryContext, start: str, flt: LogFilter) -> Iterator[CommitRecord]:
    for commit in walk(ctx, start, flt.first_parent):
        if flt.since is not None and commit.creation_date < flt.since:
            pass
        elif not (flt.objects or flt.prefixes) or _touches(ctx, commit, flt):
            yield commit
        if flt.stop_at is not None and commit.id == flt.stop_at:
            return


def _touches(ctx: RepositoryContext, commit: CommitRecord, flt: LogFilter) -> bool:
    """Whether ``commit`` changed any of the filter's objects or prefixes vs its first parent."""
    parent_root = ctx.root_of(commit.parents[0]) if commit.parents else ctx.tree.build(())
    root = commit.meta_range_id
    if root == parent_root:
        return False
    for key in flt.objects:
        if ctx.tree.get(root, key) != ctx.tree.get(parent_root, key):
            return True
    for prefix in flt.prefixes:
        if next(iter(ctx.tree.diff(parent_root, root, prefix, prefix_end(prefix))), None):
            return True
    return False


# -- merge base -----------------------------------------------------------------------

_LEFT, _RIGHT = 1, 2


def merge_base(ctx: RepositoryContext, left: str, right: str) -> str:
    """The best common ancestor of two commits, walking parents by generation.

    Commits are visited highest generation first, so when a commit is popped every
    descendant that can reach it was already visited and its reachability flags are
    complete: the first commit reachable from both sides is the nearest common one.
    """
    if left == right:
        return left
    flags = {left: _LEFT, right: _RIGHT}
    queue: list[tuple[int, str]] = []
    for commit_id in (left, right):
        heapq.heappush(queue, (-ctx.commit(commit_id).generation, commit_id))
    done: set[str] = set()
    while queue:
        _, commit_id = heapq.heappop(queue)
        if commit_id in done:
            continue
        done.add(commit_id)
        reached = flags[commit_id]
        if reached == _LEFT | _RIGHT:
            return commit_id
        for parent_id in ctx.commit(commit_id).parents:
            flags[parent_id] = flags.get(parent_id, 0) | reached
            heapq.heappush(queue, (-ctx.commit(parent_id).generation, parent_id))
    raise NotFound("no common ancestor", kind="commit", name=f"{left}...{right}")
