"""``Catalog``: object paths and entries over graveler (implements ``CatalogService``).

Paths become graveler keys (their UTF-8 bytes) and entries become graveler values
(``entries.encode_entry``). Content streams to the block store at a fresh address
under the repository's storage namespace, once; branch, commit, merge and revert only
ever move entries that point at it. Branch protection is enforced here, before any
direct write, delete, reset or commit reaches graveler, and so is the read-only flag
of a repository: every change to its branches, tags, objects or commits is refused
(``ReadOnlyRepository``, HTTP 403) unless the caller passes ``force``, as in lakeFS.
Settings (protection rules, GC rules, metadata) stay writable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from lakever_server.catalog import convert
from lakever_server.catalog.entries import (
    decode_entry,
    entry_size,
    validate_path,
    validate_prefix,
)
from lakever_server.catalog.interface import CatalogService
from lakever_server.catalog.listing import list_page
from lakever_server.catalog.models import (
    Branch,
    BranchProtectionRule,
    Commit,
    Difference,
    GarbageCollectionRules,
    MergeResult,
    MergeStrategy,
    Page,
    Repository,
    Tag,
)
from lakever_server.catalog.objects import ObjectsMixin
from lakever_server.catalog.settings import RepositorySettings
from lakever_server.errors import (
    InvalidValue,
    LakeverError,
    ProtectedBranch,
    ReadOnlyRepository,
)
from lakever_server.graveler.graveler import (
    CommitRequest,
    DiffEntry,
    Graveler,
    LogFilter,
    MergePreview,
)
from lakever_server.graveler.names import validate_amount, validate_branch_name
from lakever_server.storage.block.base import BlockStore
from lakever_server.storage.kv.base import KVStore


class Catalog(ObjectsMixin):
    """The catalog over a metadata store and a block store."""

    def __init__(self, kv: KVStore, block: BlockStore, *, graveler: Graveler | None = None) -> None:
        self.kv = kv
        self.block = block
        self.graveler = graveler if graveler is not None else Graveler(kv, block)
        self.settings = RepositorySettings(self.graveler)

    def _guard(self, repository: str, branch: str, force: bool) -> None:
        """``ReadOnlyRepository`` unless ``force``; ``ProtectedBranch`` when a rule matches
        the branch, whatever ``force`` says.

        As in lakeFS, ``force`` overrides a repository's read-only flag and nothing else:
        a protected branch changes only by merge, so a writer cannot bypass the rule an
        administrator set by adding ``force=true`` to a request.
        """
        validate_branch_name(branch)
        record = self.graveler.get_repository(repository)  # read once for both checks
        if record.read_only and not force:
            raise ReadOnlyRepository()
        if self.settings.is_protected(record, branch):
            raise ProtectedBranch(f"branch {branch} is protected")

    def check_writable(self, repository: str, branch: str, *, force: bool = False) -> None:
        self._guard(repository, branch, force)

    def _writable(self, repository: str, force: bool) -> None:
        """``ReadOnlyRepository`` unless ``force`` or the repository is writable."""
        if not force and self.graveler.get_repository(repository).read_only:
            raise ReadOnlyRepository()

    # -- repositories -----------------------------------------------------------------
    def create_repository(
        self,
        repository: str,
        storage_namespace: str,
        default_branch: str = "main",
        *,
        bare: bool = False,
        creator: str = "",
        read_only: bool = False,
    ) -> Repository:
        record = self.graveler.create_repository(
            repository,
            storage_namespace,
            default_branch,
            bare=bare,
            creator=creator,
            read_only=read_only,
        )
        return convert.repository(record)

    def get_repository(self, repository: str) -> Repository:
        return convert.repository(self.graveler.get_repository(repository))

    def list_repositories(
        self, *, prefix: str = "", after: str = "", amount: int = 100, search: str = ""
    ) -> Page[Repository]:
        validate_amount(amount)
        records = self.graveler.list_repositories(prefix, after, search)
        return convert.page((convert.repository(r) for r in records), amount, lambda r: r.id)

    def delete_repository(self, repository: str, *, force: bool = False) -> None:
        self._writable(repository, force)
        self.graveler.delete_repository(repository)

    def get_repository_metadata(self, repository: str) -> dict[str, str]:
        return self.settings.metadata(repository)

    def set_repository_metadata(self, repository: str, metadata: dict[str, str]) -> None:
        self.settings.update_metadata(repository, metadata)

    def delete_repository_metadata(self, repository: str, keys: Iterable[str]) -> None:
        self.settings.update_metadata(repository, {}, list(keys))

    # -- branches ---------------------------------------------------------------------
    def create_branch(
        self,
        repository: str,
        branch: str,
        source_ref: str,
        *,
        hidden: bool = False,
        force: bool = False,
    ) -> Branch:
        self._writable(repository, force)
        record = self.graveler.create_branch(repository, branch, source_ref, hidden=hidden)
        return Branch(id=branch, commit_id=record.commit_id)

    def get_branch(self, repository: str, branch: str) -> Branch:
        return Branch(id=branch, commit_id=self.graveler.get_branch(repository, branch).commit_id)

    def list_branches(
        self,
        repository: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> Page[Branch]:
        validate_amount(amount)
        branches = (
            Branch(id=name, commit_id=record.commit_id)
            for name, record in self.graveler.list_branches(repository, prefix, after)
            if show_hidden or not record.hidden
        )
        return convert.page(branches, amount, lambda b: b.id)

    def delete_branch(self, repository: str, branch: str, *, force: bool = False) -> None:
        self._guard(repository, branch, force)
        self.graveler.delete_branch(repository, branch)

    def reset_branch(
        self,
        repository: str,
        branch: str,
        *,
        path: str | None = None,
        prefix: str | None = None,
        force: bool = False,
    ) -> None:
        self._guard(repository, branch, force)
        key = validate_path(path) if path is not None else None
        key_prefix = validate_prefix(prefix) if prefix is not None else None
        self.graveler.reset_branch(repository, branch, key=key, prefix=key_prefix)

    def hard_reset_branch(
        self, repository: str, branch: str, ref: str, *, force: bool = False
    ) -> None:
        self._guard(repository, branch, force)
        self.graveler.hard_reset_branch(repository, branch, ref)

    def protection_rules(self, repository: str) -> tuple[list[BranchProtectionRule], str]:
        return self.settings.protection_rules(repository)

    def set_protection_rules(
        self,
        repository: str,
        rules: Sequence[BranchProtectionRule],
        *,
        if_match: str | None = None,
    ) -> str:
        return self.settings.set_protection_rules(repository, rules, if_match)

    def gc_rules(self, repository: str) -> GarbageCollectionRules:
        return self.settings.gc_rules(repository)

    def set_gc_rules(self, repository: str, rules: GarbageCollectionRules) -> None:
        self.settings.set_gc_rules(repository, rules)

    def delete_gc_rules(self, repository: str) -> None:
        self.settings.delete_gc_rules(repository)

    # -- commits ----------------------------------------------------------------------
    def commit(
        self,
        repository: str,
        branch: str,
        message: str,
        committer: str,
        *,
        metadata: dict[str, str] | None = None,
        date: int | None = None,
        allow_empty: bool = False,
        force: bool = False,
    ) -> Commit:
        self._guard(repository, branch, force)
        request = _request(committer, message, metadata, date, allow_empty)
        return convert.commit(self.graveler.commit(repository, branch, request))

    def get_commit(self, repository: str, ref: str) -> Commit:
        return convert.commit(self.graveler.get_commit(repository, ref))

    def log(
        self,
        repository: str,
        ref: str,
        *,
        after: str = "",
        amount: int = 100,
        objects: Sequence[str] = (),
        prefixes: Sequence[str] = (),
        limit: bool = False,
        first_parent: bool = False,
        since: int | None = None,
        stop_at: str | None = None,
    ) -> Page[Commit]:
        validate_amount(amount)
        stop_id = self.graveler.get_commit(repository, stop_at).id if stop_at else None
        flt = LogFilter(
            first_parent=first_parent,
            objects=[validate_path(o, field="objects") for o in objects],
            prefixes=[validate_prefix(p, field="prefixes") for p in prefixes],
            since=since,
            stop_at=stop_id,
        )
        commits = self.graveler.log(repository, ref, flt)
        if after:
            for commit in commits:
                if commit.id == after:
                    break
        page = convert.page((convert.commit(c) for c in commits), amount, lambda c: c.id)
        return Page(page.results, False, "") if limit else page

    # -- tags -------------------------------------------------------------------------
    def create_tag(self, repository: str, tag: str, ref: str, *, force: bool = False) -> Tag:
        self._writable(repository, force)
        record = self.graveler.create_tag(repository, tag, ref, force=force)
        return Tag(id=record.id, commit_id=record.commit_id)

    def get_tag(self, repository: str, tag: str) -> Tag:
        record = self.graveler.get_tag(repository, tag)
        return Tag(id=record.id, commit_id=record.commit_id)

    def list_tags(
        self, repository: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> Page[Tag]:
        validate_amount(amount)
        tags = (
            Tag(id=t.id, commit_id=t.commit_id)
            for t in self.graveler.list_tags(repository, prefix, after)
        )
        return convert.page(tags, amount, lambda t: t.id)

    def delete_tag(self, repository: str, tag: str, *, force: bool = False) -> None:
        self._writable(repository, force)
        self.graveler.delete_tag(repository, tag)

    # -- diff, merge, revert ----------------------------------------------------------
    def diff_refs(
        self,
        repository: str,
        left_ref: str,
        right_ref: str,
        *,
        diff_type: Literal["two_dot", "three_dot"] = "three_dot",
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 100,
    ) -> Page[Difference]:
        if diff_type not in ("two_dot", "three_dot"):
            raise InvalidValue(f"unknown diff type {diff_type!r}", field="type")
        self.graveler.resolve(repository, left_ref)
        self.graveler.resolve(repository, right_ref)

        def open_diff(start: bytes, end: bytes | None) -> Iterator[tuple[bytes, DiffEntry]]:
            changes = self.graveler.diff(
                repository,
                left_ref,
                right_ref,
                three_dot=diff_type == "three_dot",
                start=start,
                end=end,
            )
            return ((d.key, d) for d in changes)

        return _diff_page(open_diff, prefix, delimiter, after, amount)

    def diff_uncommitted(
        self,
        repository: str,
        branch: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 100,
    ) -> Page[Difference]:
        self.graveler.get_branch(repository, branch)

        def open_diff(start: bytes, end: bytes | None) -> Iterator[tuple[bytes, DiffEntry]]:
            changes = self.graveler.diff_uncommitted(repository, branch, start=start, end=end)
            return ((d.key, d) for d in changes)

        return _diff_page(open_diff, prefix, delimiter, after, amount)

    def find_merge_base(
        self, repository: str, source_ref: str, destination_ref: str
    ) -> tuple[str, str, str]:
        return self.graveler.merge_base(repository, source_ref, destination_ref)

    def merge(
        self,
        repository: str,
        source_ref: str,
        destination_branch: str,
        committer: str,
        *,
        message: str = "",
        metadata: dict[str, str] | None = None,
        strategy: MergeStrategy | None = None,
        squash: bool = False,
        allow_empty: bool = False,
        force: bool = False,
    ) -> MergeResult:
        if strategy not in (None, "", "dest-wins", "source-wins"):
            raise InvalidValue(f"unknown merge strategy {strategy!r}", field="strategy")
        validate_branch_name(destination_branch)
        self._writable(repository, force)
        message = message or f"Merge '{source_ref}' into '{destination_branch}'"
        request = _request(committer, message, metadata, None, allow_empty)
        commit, summary = self.graveler.merge(
            repository,
            source_ref,
            destination_branch,
            request,
            strategy=strategy or None,
            squash=squash,
        )
        return MergeResult(reference=commit.id, summary=summary)

    def preview_merge(
        self,
        repository: str,
        source_ref: str,
        destination_branch: str,
        *,
        strategy: MergeStrategy | None = None,
    ) -> MergePreview:
        if strategy not in (None, "", "dest-wins", "source-wins"):
            raise InvalidValue(f"unknown merge strategy {strategy!r}", field="strategy")
        return self.graveler.preview_merge(
            repository, source_ref, destination_branch, strategy=strategy or None
        )

    def revert(
        self,
        repository: str,
        branch: str,
        refs: Sequence[str],
        committer: str,
        *,
        parent_number: int = 0,
        message: str = "",
        metadata: dict[str, str] | None = None,
        allow_empty: bool = False,
        force: bool = False,
    ) -> Commit:
        validate_branch_name(branch)
        self._writable(repository, force)
        if isinstance(refs, str):
            refs = [refs]
        message = message or "Revert " + ", ".join(refs)
        request = _request(committer, message, metadata, None, allow_empty)
        return convert.commit(
            self.graveler.revert(repository, branch, refs, request, parent_number=parent_number)
        )

    def cherry_pick(
        self,
        repository: str,
        branch: str,
        ref: str,
        committer: str,
        *,
        parent_number: int = 0,
        force: bool = False,
    ) -> Commit:
        validate_branch_name(branch)
        self._writable(repository, force)
        origin = self.graveler.get_commit(repository, ref)
        metadata = {**origin.metadata, "cherry-pick-origin": origin.id}
        request = _request(committer, origin.message, metadata, None, False)
        return convert.commit(
            self.graveler.cherry_pick(repository, branch, ref, request, parent_number=parent_number)
        )

    # -- verification -----------------------------------------------------------------
    def verify(self, repository: str) -> list[str]:
        """fsck, including that every head tree's object content exists."""
        namespace = self.graveler.get_repository(repository).storage_namespace

        def content_exists(key: bytes, value: bytes) -> str | None:
            try:
                entry = decode_entry(key.decode(), value)
            except (ValueError, KeyError, IndexError) as exc:
                return f"entry {key!r} is malformed: {exc}"
            address = convert.full_address(namespace, entry)
            try:
                if not self.block.exists(address):
                    return f"object {entry.path}: content missing at {address}"
            except LakeverError as exc:
                return f"object {entry.path}: bad address {address}: {exc.message}"
            return None

        return self.graveler.verify(repository, content_exists)


def _request(
    committer: str,
    message: str,
    metadata: dict[str, str] | None,
    date: int | None,
    allow_empty: bool,
) -> CommitRequest:
    metadata = dict(metadata or {})
    if any(not isinstance(k, str) or not isinstance(v, str) for k, v in metadata.items()):
        raise InvalidValue("commit metadata keys and values must be strings", field="metadata")
    if date is not None and (not isinstance(date, int) or date < 0):
        raise InvalidValue("invalid commit date", field="date")
    return CommitRequest(str(committer), str(message), metadata, date, allow_empty)


def _difference(entry: DiffEntry) -> Difference:
    size = entry_size(entry.right if entry.right is not None else entry.left)
    return Difference(path=entry.key.decode(), type=entry.kind, size_bytes=size)  # type: ignore[arg-type]


def _diff_page(
    open_diff: object, prefix: str, delimiter: str, after: str, amount: int
) -> Page[Difference]:
    validate_amount(amount)
    return list_page(
        open_diff,  # type: ignore[arg-type]
        prefix=validate_prefix(prefix),
        delimiter=delimiter.encode(),
        after=after.encode(),
        amount=amount,
        item=lambda _key, d: _difference(d),
        common_prefix=lambda p: Difference(
            path=p.decode(), type="prefix_changed", path_type="common_prefix"
        ),
    )


def _implements_the_contract(catalog: Catalog) -> CatalogService:
    """Never called: mypy proves here that ``Catalog`` satisfies ``CatalogService``."""
    return catalog
