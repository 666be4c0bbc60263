"""fsck: prove a repository is consistent, or list what is wrong with it.

Checks, for every branch and tag: the record decodes and its commit exists; for every
commit reachable from them: the record is stored under the hash of its content, its
parents exist, its generation is ``max(parents) + 1``, and its tree's root node can be
read; for every head tree (deduplicated by root): every node is stored (read from
storage past every cache, through the same lookup as any read: pack index row, pack,
or the earlier one-blob-per-node layout) and hashes to its id, keys are strictly
sorted, and each value passes the caller's check (the catalog checks that the object's
content exists). Sealed and current staging tokens must be readable.
"""

from __future__ import annotations

from collections.abc import Callable

from lakever_server.errors import LakeverError
from lakever_server.graveler.model import CommitRecord
from lakever_server.graveler.repository import RepositoryContext

ValueCheck = Callable[[bytes, bytes], str | None]
"""``(key, value) -> problem or None``."""


def verify(ctx: RepositoryContext, check_value: ValueCheck | None = None) -> list[str]:
    problems: list[str] = []
    heads: dict[str, str] = {}  # commit id -> which ref named it first
    branch_names: list[str] = []
    for name, record in ctx.refs.scan_branches(ctx.repo):
        branch_names.append(name)
        heads.setdefault(record.commit_id, f"branch {name}")
        for token in record.tokens:
            try:
                for _ in ctx.staging.scan(token):
                    pass
            except (LakeverError, ValueError, IndexError) as exc:
                problems.append(f"branch {name}: staging token {token} unreadable: {exc}")
    for tag in ctx.refs.scan_tags(ctx.repo):
        heads.setdefault(tag.commit_id, f"tag {tag.id}")
    # A bare repository has no branch at all until one is created; otherwise the
    # default branch must exist.
    if branch_names and ctx.repo.default_branch not in branch_names:
        problems.append(f"default branch {ctx.repo.default_branch} is missing")
    roots = _check_commits(ctx, heads, problems)
    for root, owner in roots.items():
        _check_tree(ctx, root, owner, check_value, problems)
    return problems


def _check_commits(
    ctx: RepositoryContext, heads: dict[str, str], problems: list[str]
) -> dict[str, str]:
    """Walk every reachable commit; return the head trees to check in depth."""
    roots: dict[str, str] = {}
    seen: set[str] = set()
    stack = list(heads)
    while stack:
        commit_id = stack.pop()
        if commit_id in seen:
            continue
        seen.add(commit_id)
        owner = heads.get(commit_id, "history")
        commit = _load_commit(ctx, commit_id, owner, problems)
        if commit is None:
            continue
        generations = []
        for parent_id in commit.parents:
            parent = _load_commit(ctx, parent_id, f"parent of {commit_id}", problems)
            if parent is not None:
                generations.append(parent.generation)
                stack.append(parent_id)
        expected = max(generations, default=0) + 1
        if len(generations) == len(commit.parents) and commit.generation != expected:
            problems.append(f"commit {commit_id}: generation {commit.generation} is wrong")
        if commit_id in heads:
            roots.setdefault(commit.meta_range_id, f"{owner} tree")
        else:
            try:
                ctx.tree.count(commit.meta_range_id)
                problem = ctx.tree.check_node(commit.meta_range_id)
            except (LakeverError, ValueError, KeyError) as exc:
                problem = f"unreadable: {exc}"
            if problem:
                problems.append(f"commit {commit_id}: tree {commit.meta_range_id} {problem}")
    return roots


def _load_commit(
    ctx: RepositoryContext, commit_id: str, owner: str, problems: list[str]
) -> CommitRecord | None:
    try:
        commit = ctx.commit(commit_id)
    except LakeverError as exc:
        problems.append(f"{owner}: commit {commit_id} missing or corrupt: {exc.message}")
        return None
    if commit.id != commit_id:
        problems.append(f"{owner}: commit {commit_id} does not match its content hash")
        return None
    return commit


def _check_tree(
    ctx: RepositoryContext,
    root: str,
    owner: str,
    check_value: ValueCheck | None,
    problems: list[str],
) -> None:
    previous: bytes | None = None
    try:
        for key, value in ctx.tree.iterate(root):
            if previous is not None and key <= previous:
                problems.append(f"{owner}: keys out of order at {key!r}")
            previous = key
            if check_value is not None:
                problem = check_value(key, value)
                if problem:
                    problems.append(f"{owner}: {problem}")
    except (LakeverError, ValueError, KeyError) as exc:
        problems.append(f"{owner}: tree {root} unreadable: {exc}")
        return
    try:
        for nid in ctx.tree.walk_nodes(root):
            problem = ctx.tree.check_node(nid)
            if problem:
                problems.append(f"{owner}: {problem}")
    except (LakeverError, ValueError, KeyError) as exc:
        problems.append(f"{owner}: tree {root} unreadable: {exc}")
