"""Repositories, branches, tags, commits and settings in the metadata store.

Layout:

- partition ``graveler/repositories``: ``<repository id>`` -> ``RepositoryRecord``;
- partition ``graveler/repo/<instance id>`` (one per repository *creation*, so deleting
  and recreating a repository never sees old keys): ``branch/<name>``, ``tag/<name>``,
  ``commit/<id>``, ``setting/<name>``;
- partition ``graveler/staging/<token>``: staged entries (see ``staging``).

Branch records change only by ``set_if`` on the whole encoded record, so every update
of a branch head is a compare-and-set, as lakeFS's ``SetIf``.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from lakever_server.errors import AlreadyExists, InvalidValue, NotFound, PreconditionFailed
from lakever_server.graveler.model import BranchRecord, CommitRecord, RepositoryRecord, TagRecord
from lakever_server.graveler.names import COMMIT_ID, HEX, Modifier, parse_ref
from lakever_server.storage.kv.base import KVStore, prefix_end

REPOSITORIES = "graveler/repositories"
BRANCH = b"branch/"
TAG = b"tag/"
COMMIT = b"commit/"
SETTING = b"setting/"
COMMIT_CACHE_SIZE = 50_000
MIN_PREFIX = 4  # shortest commit-id prefix accepted as a ref


def repo_partition(repo: RepositoryRecord) -> str:
    return f"graveler/repo/{repo.instance_id}"


# Every object read decodes the repository and branch records it just read. The memo is
# keyed by the stored bytes, which are the whole record (instance id, head, tokens), so
# it is never stale: a moved head or a re-created repository is other bytes. The store
# is still read every time; only the JSON decoding is saved.
@functools.lru_cache(maxsize=1024)
def _decode_repository(raw: bytes) -> RepositoryRecord:
    return RepositoryRecord.decode(raw)


@functools.lru_cache(maxsize=4096)
def _decode_branch(raw: bytes) -> BranchRecord:
    return BranchRecord.decode(raw)


@dataclass(frozen=True)
class ResolvedRef:
    """What a ref expression points at.

    ``branch`` is set when the expression is a plain branch (no ``~``/``^`` steps);
    ``modifier`` then says which view: ``""`` staged over committed, ``"@"`` committed
    only, ``"$"`` explicitly the uncommitted workspace (read like ``""``, refused where
    a commit is needed).
    """

    commit_id: str
    branch: str | None = None
    record: BranchRecord | None = None
    modifier: Modifier = ""
    kind: str = "commit"


class RefStore:
    """Typed access to the metadata records of every repository.

    Commit records are immutable and named by their content hash, so decoded commits
    are kept in a bounded LRU: walking history and resolving ``~N`` reread none.
    """

    def __init__(self, kv: KVStore, commit_cache_size: int = COMMIT_CACHE_SIZE) -> None:
        self.kv = kv
        self._commit_cache: OrderedDict[tuple[str, str], CommitRecord] = OrderedDict()
        self._cache_size = commit_cache_size
        self._cache_lock = threading.Lock()

    # -- repositories -----------------------------------------------------------------
    def create_repository(self, record: RepositoryRecord) -> None:
        try:
            self.kv.set_if(REPOSITORIES, record.id.encode(), record.encode(), None)
        except PreconditionFailed as exc:
            raise AlreadyExists(
                f"repository {record.id} already exists", kind="repository", name=record.id
            ) from exc

    def get_repository(self, repository: str) -> RepositoryRecord:
        raw = self.kv.get(REPOSITORIES, repository.encode())
        if raw is None:
            raise NotFound(f"repository {repository} not found", kind="repository", name=repository)
        return _decode_repository(raw)

    def scan_repositories(self, prefix: str = "", after: str = "") -> Iterator[RepositoryRecord]:
        start = max(prefix.encode(), after.encode() + b"\x00" if after else b"")
        end = prefix_end(prefix.encode()) if prefix else None
        for _, raw in self.kv.scan(REPOSITORIES, start, end):
            yield RepositoryRecord.decode(raw)

    # -- branches ---------------------------------------------------------------------
    def get_branch_raw(self, repo: RepositoryRecord, branch: str) -> bytes:
        raw = self.kv.get(repo_partition(repo), BRANCH + branch.encode())
        if raw is None:
            raise NotFound(f"branch {branch} not found", kind="branch", name=branch)
        return raw

    def get_branch(self, repo: RepositoryRecord, branch: str) -> BranchRecord:
        return BranchRecord.decode(self.get_branch_raw(repo, branch))

    def create_branch(self, repo: RepositoryRecord, branch: str, record: BranchRecord) -> None:
        try:
            self.kv.set_if(repo_partition(repo), BRANCH + branch.encode(), record.encode(), None)
        except PreconditionFailed as exc:
            raise AlreadyExists(
                f"branch {branch} already exists", kind="branch", name=branch
            ) from exc

    def set_branch_if(
        self, repo: RepositoryRecord, branch: str, record: BranchRecord, expected: bytes
    ) -> bytes:
        """Compare-and-set the branch record; ``PreconditionFailed`` if it moved."""
        raw = record.encode()
        self.kv.set_if(repo_partition(repo), BRANCH + branch.encode(), raw, expected)
        return raw

    def delete_branch_if(self, repo: RepositoryRecord, branch: str, expected: bytes) -> None:
        self.kv.delete_if(repo_partition(repo), BRANCH + branch.encode(), expected)

    def scan_branches(
        self, repo: RepositoryRecord, prefix: str = "", after: str = ""
    ) -> Iterator[tuple[str, BranchRecord]]:
        for key, raw in self._scan(repo, BRANCH, prefix, after):
            yield key, BranchRecord.decode(raw)

    # -- tags -------------------------------------------------------------------------
    def get_tag(self, repo: RepositoryRecord, tag: str) -> TagRecord:
        raw = self.kv.get(repo_partition(repo), TAG + tag.encode())
        if raw is None:
            raise NotFound(f"tag {tag} not found", kind="tag", name=tag)
        return TagRecord(tag, raw.decode())

    def create_tag(self, repo: RepositoryRecord, tag: str, commit_id: str, force: bool) -> None:
        key = TAG + tag.encode()
        if force:
            self.kv.set(repo_partition(repo), key, commit_id.encode())
            return
        try:
            self.kv.set_if(repo_partition(repo), key, commit_id.encode(), None)
        except PreconditionFailed as exc:
            raise AlreadyExists(f"tag {tag} already exists", kind="tag", name=tag) from exc

    def delete_tag(self, repo: RepositoryRecord, tag: str) -> None:
        self.get_tag(repo, tag)
        self.kv.delete(repo_partition(repo), TAG + tag.encode())

    def scan_tags(
        self, repo: RepositoryRecord, prefix: str = "", after: str = ""
    ) -> Iterator[TagRecord]:
        for name, raw in self._scan(repo, TAG, prefix, after):
            yield TagRecord(name, raw.decode())

    # -- commits ----------------------------------------------------------------------
    def put_commit(self, repo: RepositoryRecord, commit: CommitRecord) -> CommitRecord:
        """Store a commit under its content id (idempotent: ids are content hashes)."""
        commit = commit.sealed()
        self.kv.set(repo_partition(repo), COMMIT + commit.id.encode(), commit.encode())
        return commit

    def get_commit(self, repo: RepositoryRecord, commit_id: str) -> CommitRecord:
        cache_key = (repo.instance_id, commit_id)
        with self._cache_lock:
            cached = self._commit_cache.get(cache_key)
            if cached is not None:
                self._commit_cache.move_to_end(cache_key)
                return cached
        raw = self.kv.get(repo_partition(repo), COMMIT + commit_id.encode())
        if raw is None:
            raise NotFound(f"commit {commit_id} not found", kind="commit", name=commit_id)
        commit = CommitRecord.decode(raw)
        with self._cache_lock:
            self._commit_cache[cache_key] = commit
            if len(self._commit_cache) > self._cache_size:
                self._commit_cache.popitem(last=False)
        return commit

    def find_commit_by_prefix(self, repo: RepositoryRecord, prefix: str) -> str | None:
        """The one commit id starting with ``prefix``; ``InvalidValue`` when ambiguous."""
        start = COMMIT + prefix.encode()
        found = [
            k for k, _ in self.kv.scan(repo_partition(repo), start, prefix_end(start), limit=2)
        ]
        if len(found) > 1:
            raise InvalidValue(f"ambiguous commit id prefix {prefix!r}", field="ref")
        return found[0][len(COMMIT) :].decode() if found else None

    def scan_commits(self, repo: RepositoryRecord) -> Iterator[CommitRecord]:
        for _, raw in self.kv.scan(repo_partition(repo), COMMIT, prefix_end(COMMIT)):
            yield CommitRecord.decode(raw)

    # -- settings ---------------------------------------------------------------------
    def get_setting(self, repo: RepositoryRecord, name: str) -> bytes | None:
        return self.kv.get(repo_partition(repo), SETTING + name.encode())

    def set_setting(self, repo: RepositoryRecord, name: str, value: bytes) -> None:
        self.kv.set(repo_partition(repo), SETTING + name.encode(), value)

    def set_setting_if(
        self, repo: RepositoryRecord, name: str, value: bytes, expected: bytes | None
    ) -> None:
        self.kv.set_if(repo_partition(repo), SETTING + name.encode(), value, expected)

    def delete_setting(self, repo: RepositoryRecord, name: str) -> None:
        self.kv.delete(repo_partition(repo), SETTING + name.encode())

    # -- ref expressions --------------------------------------------------------------
    def resolve(self, repo: RepositoryRecord, ref: str) -> ResolvedRef:
        """Resolve a ref expression (see ``names.parse_ref``) to a commit and view."""
        expr = parse_ref(ref)
        resolved = self._resolve_base(repo, expr.base)
        if expr.modifier == "$" and resolved.branch is None:
            raise InvalidValue(f"'$' applies to branches only: {ref!r}", field="ref")
        if not expr.steps:
            if resolved.branch is None:
                return resolved
            return ResolvedRef(
                resolved.commit_id, resolved.branch, resolved.record, expr.modifier, "branch"
            )
        commit_id = resolved.commit_id
        for op, number in expr.steps:
            commit_id = self._step(repo, commit_id, op, number, ref)
        return ResolvedRef(commit_id)

    def _resolve_base(self, repo: RepositoryRecord, base: str) -> ResolvedRef:
        if COMMIT_ID.match(base):
            try:
                return ResolvedRef(self.get_commit(repo, base).id)
            except NotFound:
                pass
        raw = self.kv.get(repo_partition(repo), BRANCH + base.encode())
        if raw is not None:
            record = _decode_branch(raw)
            return ResolvedRef(record.commit_id, base, record, "", "branch")
        tag = self.kv.get(repo_partition(repo), TAG + base.encode())
        if tag is not None:
            return ResolvedRef(tag.decode(), kind="tag")
        if len(base) >= MIN_PREFIX and HEX.match(base):
            found = self.find_commit_by_prefix(repo, base)
            if found is not None:
                return ResolvedRef(found)
        raise NotFound(f"ref {base} not found", kind="ref", name=base)

    def _step(self, repo: RepositoryRecord, commit_id: str, op: str, number: int, ref: str) -> str:
        if op == "^":
            if number == 0:
                return commit_id
            parents = self.get_commit(repo, commit_id).parents
            if number > len(parents):
                raise NotFound(f"ref {ref}: commit has no parent {number}", kind="ref", name=ref)
            return parents[number - 1]
        for _ in range(number):
            parents = self.get_commit(repo, commit_id).parents
            if not parents:
                raise NotFound(f"ref {ref}: no such ancestor", kind="ref", name=ref)
            commit_id = parents[0]
        return commit_id

    def _scan(
        self, repo: RepositoryRecord, kind: bytes, prefix: str, after: str
    ) -> Iterator[tuple[str, bytes]]:
        low = kind + prefix.encode()
        start = max(low, kind + after.encode() + b"\x00") if after else low
        for key, raw in self.kv.scan(repo_partition(repo), start, prefix_end(low)):
            yield key[len(kind) :].decode(), raw


def staging_partition(token: str) -> str:
    return f"graveler/staging/{token}"
