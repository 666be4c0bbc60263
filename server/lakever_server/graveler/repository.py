"""One open repository: its record, its stores, its tree, and branch-head updates.

``RepositoryContext`` bundles what every operation on a repository needs, and owns the
one compare-and-set loop that changes branch heads (``update_branch``): read the
encoded record, compute the new record, ``set_if`` on the exact bytes read; on a lost
race, re-read and recompute, a bounded number of times, then ``TooManyRequests``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lakever_server.errors import InvalidValue, PreconditionFailed, TooManyRequests
from lakever_server.graveler.model import BranchRecord, CommitRecord, RepositoryRecord
from lakever_server.graveler.refs import RefStore, ResolvedRef
from lakever_server.graveler.staging import StagingArea, merge_newest_first
from lakever_server.graveler.tree import Tree

MAX_CAS_ATTEMPTS = 25
_BACKOFF_SECONDS = 0.002


class Unchanged(Exception):
    """Raised by an update function to leave the branch as it is."""


@dataclass
class RepositoryContext:
    repo: RepositoryRecord
    refs: RefStore
    staging: StagingArea
    tree: Tree

    # -- commits ----------------------------------------------------------------------
    def commit(self, commit_id: str) -> CommitRecord:
        return self.refs.get_commit(self.repo, commit_id)

    def root_of(self, commit_id: str) -> str:
        return self.commit(commit_id).meta_range_id

    def resolve(self, ref: str) -> ResolvedRef:
        """Resolve a ref for reading: any view, ``$`` included."""
        return self.refs.resolve(self.repo, ref)

    def commit_id_of(self, ref: str) -> str:
        """Resolve a ref that must name a commit.

        ``branch$`` names the uncommitted workspace, which has no commit: like lakeFS,
        operations that need one (log, branch/tag sources, diff, merge, revert) refuse it.
        """
        resolved = self.refs.resolve(self.repo, ref)
        if resolved.modifier == "$":
            raise InvalidValue(
                f"ref {ref!r} names uncommitted changes; this operation needs a commit",
                field="ref",
            )
        return resolved.commit_id

    # -- branch heads -----------------------------------------------------------------
    def read_branch(self, branch: str) -> tuple[bytes, BranchRecord]:
        raw = self.refs.get_branch_raw(self.repo, branch)
        return raw, BranchRecord.decode(raw)

    def update_branch(
        self, branch: str, update: Callable[[BranchRecord], BranchRecord]
    ) -> tuple[BranchRecord, BranchRecord]:
        """Compare-and-set ``branch`` to ``update(current)``; returns ``(old, new)``.

        ``update`` may raise (a domain error, or ``Unchanged``) to abandon the update;
        it is called again with the fresh record after every lost race.
        """
        for attempt in range(MAX_CAS_ATTEMPTS):
            raw, current = self.read_branch(branch)
            new = update(current)
            try:
                self.refs.set_branch_if(self.repo, branch, new, raw)
            except PreconditionFailed:
                time.sleep(_BACKOFF_SECONDS * (attempt + 1))
                continue
            return current, new
        raise TooManyRequests(f"branch {branch} is changing too fast; retry")

    # -- reading a view ---------------------------------------------------------------
    def get(self, resolved: ResolvedRef, key: bytes) -> bytes | None:
        """The value visible at ``key`` in a resolved ref's view, or ``None``."""
        record = resolved.record
        if record is not None and resolved.modifier != "@":
            staged, value = self.staging.lookup(record.tokens, key)
            if staged:
                return value
        return self.tree.get(self.root_of(resolved.commit_id), key)

    def iterate(
        self, resolved: ResolvedRef, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Visible ``(key, value)`` pairs from ``start`` in key order.

        On a branch (``branch`` or ``branch$``; ``branch@`` is committed only): staging
        tokens (newest first) over the committed tree; each source
        seeks to ``start`` so a page at any offset costs what the page costs.
        """
        record = resolved.record
        committed = self.tree.iterate(self.root_of(resolved.commit_id), start, end)
        if record is None or resolved.modifier == "@":
            return committed  # the tree's own cursor: no generator step per item
        sources: list[Iterator[tuple[bytes, bytes | None]]] = [
            self.staging.scan(t, start, end) for t in record.tokens
        ]
        sources.append(committed)
        return _visible(merge_newest_first(sources))


def _visible(merged: Iterator[tuple[bytes, bytes | None]]) -> Iterator[tuple[bytes, bytes]]:
    """The merged items that are not deletions."""
    for key, value in merged:
        if value is not None:
            yield key, value
