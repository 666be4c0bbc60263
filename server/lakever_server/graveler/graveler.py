"""``Graveler``: the facade of the versioning core that the catalog calls.

Keys and values are bytes; values are ``model.Value`` encodings (identity + data).
Branch heads change only by compare-and-set (``RepositoryContext.update_branch``).
Operations that move a head (commit, merge, revert, cherry-pick, import) also take an
in-process lock per branch: it only saves wasted work between threads of one server;
correctness across processes comes from the compare-and-set alone.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from lakever_server.errors import (
    InvalidValue,
    PreconditionFailed,
    TooManyRequests,
)
from lakever_server.graveler import commits, fsck, gc, head_updates
from lakever_server.graveler.commits import CommitRequest, LogFilter
from lakever_server.graveler.merge import MergePreview, plan_merge
from lakever_server.graveler.model import (
    BranchRecord,
    CommitRecord,
    RepositoryRecord,
    TagRecord,
    value_identity,
)
from lakever_server.graveler.names import (
    validate_branch_name,
    validate_repository_id,
    validate_tag_name,
)
from lakever_server.graveler.refs import RefStore, ResolvedRef, repo_partition
from lakever_server.graveler.repository import MAX_CAS_ATTEMPTS, RepositoryContext
from lakever_server.graveler.staging import StagingArea, new_token
from lakever_server.graveler.tree import NodeCache, PackedNodeStore, Tree
from lakever_server.storage.block.base import BlockStore, parse_address
from lakever_server.storage.kv.base import KVStore

BRANCH_LOCK_STRIPES = 64

Condition = Callable[[bytes | None], None]
"""Checks the currently visible value before a conditional write; raises to refuse."""


@dataclass(frozen=True)
class DiffEntry:
    """One key that differs: its value on the left (``None``: absent) and the right."""

    key: bytes
    left: bytes | None
    right: bytes | None

    @property
    def kind(self) -> str:
        if self.left is None:
            return "added"
        if self.right is None:
            return "removed"
        return "changed"


class Graveler:
    """Repositories, branches, staging, commits, tags, diff, merge, revert, import."""

    def __init__(self, kv: KVStore, block: BlockStore, *, cache: NodeCache | None = None) -> None:
        self.kv = kv
        self.block = block
        self.refs = RefStore(kv)
        self.staging = StagingArea(kv)
        self.cache = cache if cache is not None else NodeCache()
        self._trees: dict[str, Tree] = {}
        # Striped, so a server that sees millions of run branches keeps 64 locks. No
        # operation holds two, so two branches sharing a stripe only wait, never deadlock.
        self._locks = [threading.Lock() for _ in range(BRANCH_LOCK_STRIPES)]
        self._guard = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------
    def tree_for(self, storage_namespace: str) -> Tree:
        with self._guard:
            tree = self._trees.get(storage_namespace)
            if tree is None:
                # One pack per flush, then its index rows; build/apply return a root only
                # once both are stored, so a commit never names a node that is not.
                store = PackedNodeStore(self.block, self.kv, storage_namespace, self.cache)
                tree = self._trees[storage_namespace] = Tree(store)
            return tree

    def forget_tree(self, storage_namespace: str) -> None:
        """Drop the namespace's node store (and its locator cache): after tree storage was
        deleted (``gc``), the next operation starts from a fresh one."""
        with self._guard:
            self._trees.pop(storage_namespace, None)
            self._trees.pop(storage_namespace.rstrip("/"), None)

    def open(self, repository: str) -> RepositoryContext:
        repo = self.refs.get_repository(repository)
        return self._context(repo)

    def _context(self, repo: RepositoryRecord) -> RepositoryContext:
        tree = self.tree_for(repo.storage_namespace)
        return RepositoryContext(repo, self.refs, self.staging, tree)

    def _lock(self, ctx: RepositoryContext, branch: str) -> threading.Lock:
        return self._locks[hash((ctx.repo.instance_id, branch)) % BRANCH_LOCK_STRIPES]

    # -- repositories -----------------------------------------------------------------
    def create_repository(
        self,
        repository: str,
        storage_namespace: str,
        default_branch: str = "main",
        *,
        bare: bool = False,
        creator: str = "",
        creation_date: int | None = None,
        read_only: bool = False,
    ) -> RepositoryRecord:
        """Create a repository and, unless ``bare``, its first commit and default branch.

        The branch and commit are written to the new instance partition before the
        repository record appears, so a crash never leaves a repository without them.
        """
        validate_repository_id(repository)
        validate_branch_name(default_branch)
        self._validate_namespace(storage_namespace)
        # A repository deleted from this namespace may have left its purge unfinished.
        gc.finish_purge(self, storage_namespace)
        date = int(time.time()) if creation_date is None else creation_date
        repo = RepositoryRecord(
            repository, storage_namespace, default_branch, date, uuid.uuid4().hex, read_only
        )
        if not bare:
            ctx = self._context(repo)
            request = CommitRequest(creator, "Repository created", {}, date)
            first = commits.new_commit(ctx, [], ctx.tree.build(()), request)
            self.refs.create_branch(repo, default_branch, BranchRecord(first.id, new_token()))
        try:
            self.refs.create_repository(repo)
        except Exception:
            self.kv.drop_partition(repo_partition(repo))
            raise
        return repo

    def _validate_namespace(self, storage_namespace: str) -> None:
        """A namespace is an address prefix this block store serves (``local://lake/r``)."""
        try:
            scheme, rest = parse_address(storage_namespace)
        except InvalidValue as exc:
            raise InvalidValue(exc.message, field="storage_namespace") from exc
        if not rest.strip("/") or scheme not in self.block.schemes:
            served = ", ".join(f"{s}://" for s in self.block.schemes)
            raise InvalidValue(
                f"storage namespace {storage_namespace!r} must be under {served}",
                field="storage_namespace",
            )

    def get_repository(self, repository: str) -> RepositoryRecord:
        return self.refs.get_repository(repository)

    def list_repositories(
        self, prefix: str = "", after: str = "", search: str = ""
    ) -> Iterator[RepositoryRecord]:
        for repo in self.refs.scan_repositories(prefix, after):
            if search in repo.id:
                yield repo

    def delete_repository(self, repository: str) -> None:
        """Delete the repository's metadata, then the tree storage of its namespace
        unless another repository uses it; object data stays (as lakeFS). See ``gc``."""
        gc.delete_repository(self, repository)

    def collect_garbage(
        self,
        repository: str,
        *,
        grace_seconds: float = gc.DEFAULT_GRACE_SECONDS,
        dry_run: bool = False,
    ) -> gc.GCReport:
        """Remove the tree storage that no commit names (see ``gc.collect_garbage``)."""
        return gc.collect_garbage(self, repository, grace_seconds=grace_seconds, dry_run=dry_run)

    def get_setting(self, repository: str | RepositoryRecord, name: str) -> bytes | None:
        """A setting's value; pass a record already read to save reading it again."""
        if isinstance(repository, str):
            repository = self.refs.get_repository(repository)
        return self.refs.get_setting(repository, name)

    def set_setting(
        self,
        repository: str,
        name: str,
        value: bytes | None,
        *,
        expected: bytes | None = None,
        check: bool = False,
    ) -> None:
        """Write (or with ``value=None`` delete) a setting; ``check`` makes it a CAS."""
        repo = self.refs.get_repository(repository)
        if value is None:
            self.refs.delete_setting(repo, name)
        elif check:
            self.refs.set_setting_if(repo, name, value, expected)
        else:
            self.refs.set_setting(repo, name, value)

    # -- branches ---------------------------------------------------------------------
    def create_branch(
        self, repository: str, branch: str, source_ref: str, *, hidden: bool = False
    ) -> BranchRecord:
        """Point a new branch at the source's commit: one metadata write, no copying."""
        validate_branch_name(branch)
        ctx = self.open(repository)
        commit_id = ctx.commit_id_of(source_ref)
        record = BranchRecord(commit_id, new_token(), (), hidden)
        self.refs.create_branch(ctx.repo, branch, record)
        return record

    def get_branch(self, repository: str, branch: str) -> BranchRecord:
        validate_branch_name(branch)
        return self.open(repository).read_branch(branch)[1]

    def list_branches(
        self, repository: str, prefix: str = "", after: str = ""
    ) -> Iterator[tuple[str, BranchRecord]]:
        return self.refs.scan_branches(self.refs.get_repository(repository), prefix, after)

    def delete_branch(self, repository: str, branch: str) -> None:
        ctx = self.open(repository)
        validate_branch_name(branch)
        if branch == ctx.repo.default_branch:
            raise InvalidValue("cannot delete the repository's default branch", field="branch")
        for _ in range(MAX_CAS_ATTEMPTS):
            raw, record = ctx.read_branch(branch)
            try:
                self.refs.delete_branch_if(ctx.repo, branch, raw)
            except PreconditionFailed:
                continue
            self.staging.drop(record.tokens)
            return
        raise TooManyRequests(f"branch {branch} is changing too fast; retry")

    def reset_branch(
        self, repository: str, branch: str, *, key: bytes | None = None, prefix: bytes | None = None
    ) -> None:
        """Drop uncommitted changes: all, one key, or every key under a prefix."""
        ctx = self.open(repository)
        validate_branch_name(branch)
        if key is not None or prefix is not None:
            record = ctx.read_branch(branch)[1]
            if key is not None:
                self.staging.drop_key(record.tokens, key)
            else:
                self.staging.drop_prefix(record.tokens, prefix or b"")
            return
        old, _ = ctx.update_branch(
            branch, lambda b: b.with_changes(staging_token=new_token(), sealed_tokens=())
        )
        self.staging.drop(old.tokens)

    def hard_reset_branch(self, repository: str, branch: str, ref: str) -> BranchRecord:
        """Point the branch at ``ref``'s commit and drop its uncommitted changes."""
        ctx = self.open(repository)
        validate_branch_name(branch)
        target = ctx.commit_id_of(ref)
        with self._lock(ctx, branch):
            old, new = ctx.update_branch(
                branch,
                lambda b: b.with_changes(
                    commit_id=target, staging_token=new_token(), sealed_tokens=()
                ),
            )
        self.staging.drop(old.tokens)
        return new

    # -- reading ----------------------------------------------------------------------
    def resolve(self, repository: str, ref: str) -> ResolvedRef:
        return self.open(repository).resolve(ref)

    def get(self, repository: str, ref: str, key: bytes) -> bytes | None:
        ctx = self.open(repository)
        return ctx.get(ctx.resolve(ref), key)

    def iterate(
        self, repository: str, ref: str, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        ctx = self.open(repository)
        return ctx.iterate(ctx.resolve(ref), start, end)

    # -- staging writes ---------------------------------------------------------------
    def set(
        self,
        repository: str,
        branch: str,
        key: bytes,
        value: bytes | None,
        *,
        condition: Condition | None = None,
    ) -> None:
        """Stage ``value`` (``None``: a tombstone) at ``key`` on ``branch``.

        After writing, the branch is re-read: if a commit sealed the token meanwhile,
        the write is repeated in the new token, so it is never lost (lakeFS's
        "safe branch write"). ``condition`` sees the visible value and may raise; the
        staged entry is then written by compare-and-set so the check holds when written.
        """
        ctx = self.open(repository)
        validate_branch_name(branch)
        for _ in range(MAX_CAS_ATTEMPTS):
            record = ctx.read_branch(branch)[1]
            token = record.staging_token
            if condition is None:
                self.staging.set(token, key, value)
            else:
                expected = self.staging.get_raw(token, key)
                condition(ctx.get(ResolvedRef(record.commit_id, branch, record), key))
                try:
                    self.staging.set_if(token, key, value, expected)
                except PreconditionFailed:
                    continue
            if ctx.read_branch(branch)[1].staging_token == token:
                return
        raise TooManyRequests(f"branch {branch} is changing too fast; retry")

    def set_many(
        self, repository: str, branch: str, items: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        """Stage many changes in one metadata batch (same sealing rule as ``set``)."""
        ctx = self.open(repository)
        for _ in range(MAX_CAS_ATTEMPTS):
            token = ctx.read_branch(branch)[1].staging_token
            self.staging.set_many(token, items)
            if ctx.read_branch(branch)[1].staging_token == token:
                return
        raise TooManyRequests(f"branch {branch} is changing too fast; retry")

    # -- commits ----------------------------------------------------------------------
    def commit(self, repository: str, branch: str, request: CommitRequest) -> CommitRecord:
        ctx = self.open(repository)
        validate_branch_name(branch)
        with self._lock(ctx, branch):
            return commits.commit_branch(ctx, branch, request)

    def get_commit(self, repository: str, ref: str) -> CommitRecord:
        ctx = self.open(repository)
        return ctx.commit(ctx.commit_id_of(ref))

    def log(self, repository: str, ref: str, flt: LogFilter) -> Iterator[CommitRecord]:
        ctx = self.open(repository)
        return commits.log(ctx, ctx.commit_id_of(ref), flt)

    # -- tags -------------------------------------------------------------------------
    def create_tag(self, repository: str, tag: str, ref: str, *, force: bool = False) -> TagRecord:
        validate_tag_name(tag)
        ctx = self.open(repository)
        commit_id = ctx.commit_id_of(ref)
        self.refs.create_tag(ctx.repo, tag, commit_id, force)
        return TagRecord(tag, commit_id)

    def get_tag(self, repository: str, tag: str) -> TagRecord:
        validate_tag_name(tag)
        return self.refs.get_tag(self.refs.get_repository(repository), tag)

    def list_tags(self, repository: str, prefix: str = "", after: str = "") -> Iterator[TagRecord]:
        return self.refs.scan_tags(self.refs.get_repository(repository), prefix, after)

    def delete_tag(self, repository: str, tag: str) -> None:
        validate_tag_name(tag)
        self.refs.delete_tag(self.refs.get_repository(repository), tag)

    # -- diff -------------------------------------------------------------------------
    def merge_base(self, repository: str, left_ref: str, right_ref: str) -> tuple[str, str, str]:
        """``(base, left commit, right commit)``."""
        ctx = self.open(repository)
        left, right = ctx.commit_id_of(left_ref), ctx.commit_id_of(right_ref)
        return commits.merge_base(ctx, left, right), left, right

    def diff(
        self,
        repository: str,
        left_ref: str,
        right_ref: str,
        *,
        three_dot: bool = False,
        start: bytes = b"",
        end: bytes | None = None,
    ) -> Iterator[DiffEntry]:
        """Keys whose identities differ between two refs' commits (three-dot: from their
        merge base to the right). Equal subtrees are skipped by id.

        A right side ``branch$`` adds the branch's uncommitted changes: its staged
        entries are laid over the committed diff, so the cost is that diff plus one
        lookup per staged entry, never a scan of either tree.
        """
        ctx = self.open(repository)
        left = ctx.commit_id_of(left_ref)
        resolved = ctx.resolve(right_ref)
        staged = resolved.record if resolved.modifier == "$" else None
        right = resolved.commit_id
        if three_dot:
            left = commits.merge_base(ctx, left, right)
        left_root = ctx.root_of(left)
        changes = self._diff_roots(ctx.tree, left_root, ctx.root_of(right), start, end)
        if staged is None:
            return changes
        overlay = self.staging.changes(staged.tokens, start, end)
        return _overlay_staged(ctx.tree, left_root, changes, overlay)

    @staticmethod
    def _diff_roots(
        tree: Tree, left: str, right: str, start: bytes, end: bytes | None
    ) -> Iterator[DiffEntry]:
        for change in tree.diff(left, right, start, end):
            if value_identity(change.left) != value_identity(change.right):
                yield DiffEntry(change.key, change.left, change.right)

    def diff_uncommitted(
        self, repository: str, branch: str, *, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[DiffEntry]:
        """Staged changes of a branch against its head commit (no-op tombstones hidden)."""
        ctx = self.open(repository)
        record = ctx.read_branch(branch)[1]
        root = ctx.root_of(record.commit_id)
        for key, staged in self.staging.changes(record.tokens, start, end):
            committed = ctx.tree.get(root, key)
            if value_identity(committed) != value_identity(staged):
                yield DiffEntry(key, committed, staged)

    # -- merge, revert, cherry-pick, import ------------------------------------------
    def merge(
        self,
        repository: str,
        source_ref: str,
        destination: str,
        request: CommitRequest,
        *,
        strategy: str | None = None,
        squash: bool = False,
    ) -> tuple[CommitRecord, dict[str, int]]:
        """Three-way merge into ``destination``; always a new commit (no fast-forward)."""
        ctx = self.open(repository)
        validate_branch_name(destination)
        source = ctx.commit_id_of(source_ref)
        with self._lock(ctx, destination):
            return head_updates.merge_into(
                ctx, source, destination, request, strategy=strategy, squash=squash
            )

    def preview_merge(
        self, repository: str, source_ref: str, destination: str, *, strategy: str | None = None
    ) -> MergePreview:
        """What ``merge`` would do now, computed from the same commits; writes nothing
        (no tree nodes, no commit, no ref)."""
        ctx = self.open(repository)
        validate_branch_name(destination)
        source = ctx.commit_id_of(source_ref)
        record = ctx.read_branch(destination)[1]
        base = commits.merge_base(ctx, source, record.commit_id)
        plan = plan_merge(
            ctx.tree,
            ctx.root_of(base),
            ctx.root_of(source),
            ctx.root_of(record.commit_id),
            strategy,
        )
        return MergePreview(
            base=base,
            source=source,
            destination=record.commit_id,
            summary=plan.summary,
            conflicts=plan.conflicts,
            changes=len(plan.changes),
            dirty=not self.staging.is_empty(record.tokens),
        )

    def revert(
        self,
        repository: str,
        branch: str,
        refs: Sequence[str],
        request: CommitRequest,
        *,
        parent_number: int = 0,
    ) -> CommitRecord:
        """Undo one or several commits on ``branch`` in one commit (newest first)."""
        ctx = self.open(repository)
        validate_branch_name(branch)
        if not refs:
            raise InvalidValue("nothing to revert", field="refs")
        targets = [ctx.commit(ctx.commit_id_of(r)) for r in refs]
        with self._lock(ctx, branch):
            return head_updates.revert_commits(ctx, branch, targets, request, parent_number)

    def cherry_pick(
        self,
        repository: str,
        branch: str,
        ref: str,
        request: CommitRequest,
        *,
        parent_number: int = 0,
    ) -> CommitRecord:
        """Apply ``ref``'s change on ``branch`` as a new commit."""
        ctx = self.open(repository)
        validate_branch_name(branch)
        target = ctx.commit(ctx.commit_id_of(ref))
        with self._lock(ctx, branch):
            return head_updates.cherry_pick_commit(ctx, branch, target, request, parent_number)

    def import_items(
        self,
        repository: str,
        branch: str,
        items: Callable[[], Iterable[tuple[bytes, bytes]]],
        request: CommitRequest,
    ) -> CommitRecord:
        """Commit sorted, unique ``items`` over the head tree (see ``head_updates``)."""
        ctx = self.open(repository)
        validate_branch_name(branch)
        with self._lock(ctx, branch):
            return head_updates.import_onto(ctx, branch, items, request)

    # -- verification -----------------------------------------------------------------
    def verify(self, repository: str, check_value: fsck.ValueCheck | None = None) -> list[str]:
        """fsck (see ``fsck.verify``): the list of problems, empty when consistent."""
        return fsck.verify(self.open(repository), check_value)


def _overlay_staged(
    tree: Tree,
    left_root: str,
    committed: Iterator[DiffEntry],
    staged: Iterator[tuple[bytes, bytes | None]],
) -> Iterator[DiffEntry]:
    """The committed diff (left root to the right branch's commit) with the right
    branch's staged changes over it, in key order.

    A staged key replaces the right value; its left value comes from the committed diff
    when that lists the key, else from the left tree (the key is equal on both sides).
    """
    pending = next(committed, None)
    for key, value in staged:
        while pending is not None and pending.key < key:
            yield pending
            pending = next(committed, None)
        if pending is not None and pending.key == key:
            left = pending.left
            pending = next(committed, None)
        else:
            left = tree.get(left_root, key)
        if value_identity(left) != value_identity(value):
            yield DiffEntry(key, left, value)
    if pending is not None:
        yield pending
        yield from committed


__all__ = ["CommitRequest", "DiffEntry", "Graveler", "LogFilter", "MergePreview"]
