"""What the sensors wait for, written once for the worker (poke) and the triggerer.

Both conditions read only *committed* states: a ref is first resolved to a commit, and the
object listing is taken at that commit id, so files staged on a branch but not committed
never satisfy a sensor.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_lakever.hooks.lakever import LakeverHook

#: How many commits of a branch's log a commit sensor reads per poke, at most.
LOG_DEPTH = 1000
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class FileQuery:
    """Which committed object(s) to look for; exactly one of the three is set.

    :param path: an exact object path.
    :param prefix: any object under this prefix.
    :param pattern: a glob over full paths (``*`` also matches ``/``).
    """

    path: str | None = None
    prefix: str | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.path, self.prefix, self.pattern) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of path, prefix and pattern")

    def describe(self) -> str:
        if self.path is not None:
            return f"path {self.path!r}"
        if self.prefix is not None:
            return f"prefix {self.prefix!r}"
        return f"pattern {self.pattern!r}"


def committed_ref(ref: str) -> str:
    """``ref`` without a trailing ``@`` (lakeFS's "committed state" marker).

    The sensors always resolve a ref to a commit id first, which is committed by nature.
    """
    return ref[:-1] if ref.endswith("@") else ref


def find_committed_file(
    hook: LakeverHook, repository: str, ref: str, query: FileQuery
) -> dict[str, str] | None:
    """``{"commit_id", "path"}`` of a committed object matching ``query``, else ``None``."""
    commit_id = hook.resolve_commit(repository, committed_ref(ref)).id
    found: str | None = None
    if query.path is not None:
        stats = hook.stat_object(repository, commit_id, query.path)
        found = stats.path if stats is not None else None
    elif query.prefix is not None:
        found = next(
            (
                s.path
                for s in hook.list_objects(repository, commit_id, prefix=query.prefix, limit=1)
            ),
            None,
        )
    else:
        pattern = str(query.pattern)
        literal = pattern[
            : min((pattern.find(c) for c in _GLOB_CHARS if c in pattern), default=len(pattern))
        ]
        found = next(
            (
                s.path
                for s in hook.list_objects(repository, commit_id, prefix=literal)
                if fnmatch.fnmatchcase(s.path, pattern)
            ),
            None,
        )
    return {"commit_id": commit_id, "path": found} if found is not None else None


@dataclass(frozen=True)
class CommitQuery:
    """Which new commit on a branch to wait for.

    :param baseline: the commit id already seen; only commits after it count. ``None``
        with ``since`` set: commits created strictly after that Unix time count.
    :param since: see ``baseline``.
    :param metadata: every key must be present in the commit's metadata with this value.
    :param prefixes: the commit must change something under at least one of these.
    """

    baseline: str | None = None
    since: float | None = None
    metadata: Mapping[str, str] | None = None
    prefixes: Sequence[str] = ()


def find_new_commit(
    hook: LakeverHook, repository: str, branch: str, query: CommitQuery
) -> dict[str, Any] | None:
    """The newest commit on ``branch`` after the baseline that passes the filters.

    When the baseline is not in the branch's recent history (the branch was reset or
    recreated), every commit read counts as new.
    """
    for commit in hook.iter_log(repository, branch, limit=LOG_DEPTH):
        if query.baseline is not None and commit.id == query.baseline:
            return None
        if query.since is not None and commit.creation_date <= query.since:
            return None
        if _matches(hook, repository, commit, query):
            return {
                "commit_id": commit.id,
                "message": commit.message,
                "metadata": dict(commit.metadata or {}),
                "creation_date": commit.creation_date,
            }
    return None


def _matches(hook: LakeverHook, repository: str, commit: Any, query: CommitQuery) -> bool:
    metadata = commit.metadata or {}
    if any(metadata.get(k) != v for k, v in (query.metadata or {}).items()):
        return False
    if not query.prefixes:
        return True
    if not commit.parents:
        return False
    parent = commit.parents[0]
    return any(
        next(iter(hook.diff(repository, parent, commit.id, prefix=p, diff_type="two_dot")), None)
        is not None
        for p in query.prefixes
    )
