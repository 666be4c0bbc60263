"""The catalog's contract with the protocols above it.

``catalog.Catalog`` implements this; ``api``, ``gateway``, ``webhdfs``, ``ui`` and the
tests call only these methods. All methods are synchronous and thread-safe (the web
layer runs them in a thread pool). Errors are from ``lakever_server.errors``:

- ``InvalidValue``: malformed id, name, path, ref expression or parameter;
- ``NotFound``: unknown repository, branch, tag, ref, commit or object;
- ``AlreadyExists``: creating an existing repository, branch or tag;
- ``MergeConflict``: a merge found conflicting paths (all of them listed);
- ``NoChanges``: commit or merge with nothing to record, without ``allow_empty``;
- ``DirtyBranch``: merge into / revert on a branch with uncommitted changes;
- ``ProtectedBranch``: direct writes, commits, resets or deletes on a protected branch;
- ``ReadOnlyRepository`` (a ``Forbidden``): any change to the branches, tags, objects or
  commits of a repository created ``read_only`` (and deleting it), unless ``force``.
  ``update_object_metadata`` has no ``force`` and is always refused there. Settings
  (protection, GC rules, repository metadata) and every read stay allowed;
- ``PreconditionFailed``: ``if_absent`` / ``if_match`` / ETag preconditions;
- ``TooManyRequests``: a branch-head race lost repeatedly; the client may retry.

Refs accepted wherever ``ref`` appears: a full or unique-prefix commit id, a branch, a
tag, with modifiers ``~N``, ``^N``, ``@`` (committed only) and ``$`` (the branch's uncommitted
workspace, read like the branch; refused where a commit is needed, as in lakeFS, except
on the right of ``diff_refs``, where it adds the branch's uncommitted changes).
Paths are object keys: UTF-8, no NUL, at most 1024 bytes, not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal, Protocol

from lakever_server.catalog.models import (
    Branch,
    BranchProtectionRule,
    Commit,
    CommonPrefix,
    Difference,
    Entry,
    GarbageCollectionRules,
    MergeResult,
    MergeStrategy,
    Page,
    Repository,
    Tag,
)
from lakever_server.graveler.merge import MergePreview
from lakever_server.storage.block.base import Content


class CatalogService(Protocol):
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
        """Create a repository; unless ``bare``, its default branch with an initial
        commit "Repository created" (no parents). ``read_only`` refuses later writes
        that do not pass ``force``."""
        ...

    def get_repository(self, repository: str) -> Repository: ...

    def list_repositories(
        self, *, prefix: str = "", after: str = "", amount: int = 100, search: str = ""
    ) -> Page[Repository]: ...

    def delete_repository(self, repository: str, *, force: bool = False) -> None:
        """Remove the repository and everything it owns in the metadata store
        (a read-only one only with ``force``)."""
        ...

    def get_repository_metadata(self, repository: str) -> dict[str, str]: ...

    def set_repository_metadata(self, repository: str, metadata: dict[str, str]) -> None:
        """Merge ``metadata`` into the repository's metadata."""
        ...

    def delete_repository_metadata(self, repository: str, keys: Iterable[str]) -> None: ...

    # -- branches ---------------------------------------------------------------------
    def check_writable(self, repository: str, branch: str, *, force: bool = False) -> None:
        """Raise what a write to ``branch`` would raise before it starts:
        ``ReadOnlyRepository`` (unless ``force``) or ``ProtectedBranch``. For protocols
        that announce a write before sending it (S3 CreateMultipartUpload)."""
        ...

    def create_branch(
        self,
        repository: str,
        branch: str,
        source_ref: str,
        *,
        hidden: bool = False,
        force: bool = False,
    ) -> Branch:
        """Point a new branch at ``source_ref``'s commit; O(1), copies no entries.

        The source must not have uncommitted changes semantics: like lakeFS, a branch
        created from a branch starts at the source's head commit (staging not copied).
        """
        ...

    def get_branch(self, repository: str, branch: str) -> Branch: ...

    def list_branches(
        self,
        repository: str,
        *,
        prefix: str = "",
        after: str = "",
        amount: int = 100,
        show_hidden: bool = False,
    ) -> Page[Branch]: ...

    def delete_branch(self, repository: str, branch: str, *, force: bool = False) -> None:
        """Delete a branch (refused for the default branch, and for protected ones
        unless ``force``)."""
        ...

    def reset_branch(
        self,
        repository: str,
        branch: str,
        *,
        path: str | None = None,
        prefix: str | None = None,
        force: bool = False,
    ) -> None:
        """Drop uncommitted changes: all of them, one object (``path``) or a ``prefix``."""
        ...

    def hard_reset_branch(
        self, repository: str, branch: str, ref: str, *, force: bool = False
    ) -> None:
        """Point the branch at ``ref``'s commit, dropping its uncommitted changes."""
        ...

    def protection_rules(self, repository: str) -> tuple[list[BranchProtectionRule], str]:
        """The branch-protection rules and their ETag."""
        ...

    def set_protection_rules(
        self,
        repository: str,
        rules: Sequence[BranchProtectionRule],
        *,
        if_match: str | None = None,
    ) -> str:
        """Replace the rules; ``if_match`` must equal the current ETag when given
        (``PreconditionFailed`` otherwise). Returns the new ETag."""
        ...

    def gc_rules(self, repository: str) -> GarbageCollectionRules: ...

    def set_gc_rules(self, repository: str, rules: GarbageCollectionRules) -> None: ...

    def delete_gc_rules(self, repository: str) -> None: ...

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
        """Record the branch's staged changes as a new commit (whole or not at all)."""
        ...

    def get_commit(self, repository: str, ref: str) -> Commit: ...

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
        """Commits reachable from ``ref``, newest first (by generation, then date).

        ``objects``/``prefixes`` keep only commits that changed those paths compared to
        their first parent; ``limit`` stops after ``amount`` results without ``has_more``.
        """
        ...

    # -- tags -------------------------------------------------------------------------
    def create_tag(self, repository: str, tag: str, ref: str, *, force: bool = False) -> Tag: ...

    def get_tag(self, repository: str, tag: str) -> Tag: ...

    def list_tags(
        self, repository: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> Page[Tag]: ...

    def delete_tag(self, repository: str, tag: str, *, force: bool = False) -> None: ...

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
        """What changed from ``left_ref`` to ``right_ref`` (three-dot: since their merge
        base). A plain branch stands for its head commit; ``right_ref`` may be
        ``branch$`` to include the branch's uncommitted changes. Cost scales with the
        difference (and the staged entries), not the trees."""
        ...

    def diff_uncommitted(
        self,
        repository: str,
        branch: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 100,
    ) -> Page[Difference]: ...

    def find_merge_base(
        self, repository: str, source_ref: str, destination_ref: str
    ) -> tuple[str, str, str]:
        """``(base_commit_id, source_commit_id, destination_commit_id)``."""
        ...

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
        """Three-way merge of ``source_ref`` into ``destination_branch``.

        Merge commit parents are ``[destination head, source commit]`` (one parent when
        ``squash``). Raises ``MergeConflict`` listing every conflicting path.
        """
        ...

    def preview_merge(
        self,
        repository: str,
        source_ref: str,
        destination_branch: str,
        *,
        strategy: MergeStrategy | None = None,
    ) -> MergePreview:
        """A dry run of ``merge``: from the same commits (merge base, source, the
        destination's head), the changes it would write, every conflict it would
        report, and whether the destination has uncommitted changes. Writes nothing:
        no tree node, commit or ref. Costs what the merge's diffs cost."""
        ...

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
        """Revert one or several commits in one atomic commit (newest first applied).

        ``parent_number`` (1-based) is required for merge commits; out of range is
        ``InvalidValue``. Conflicts raise ``MergeConflict``.
        """
        ...

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
        """Apply the change of ``ref`` on ``branch``; metadata gets
        ``cherry-pick-origin: <commit id>``."""
        ...

    # -- objects ----------------------------------------------------------------------
    def get_entry(self, repository: str, ref: str, path: str) -> Entry: ...

    def list_entries(
        self,
        repository: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Page[Entry | CommonPrefix]: ...

    def write_object(
        self,
        repository: str,
        branch: str,
        path: str,
        chunks: Content,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        if_absent: bool = False,
        if_match: str | None = None,
        force: bool = False,
        part_checksum: bool = False,
    ) -> Entry:
        """Stream content to a new physical address in the repository's namespace, then
        stage the entry. ``chunks`` may be a ``BodyReader`` (an upload read straight from
        the socket), which a store that can (``ReaderPutStore``) reads into its own write
        buffers. ``if_absent``/``if_match`` (checksum) are checked atomically
        with staging; on failure the content is not linked. ``part_checksum`` lets the
        checksum be S3's multipart form over 8 MiB parts where the store can hash that
        on several cores (``PartDigestedPutStore``): for writers whose clients never
        compare it with an MD5 (WebHDFS)."""
        ...

    def read_object(
        self, repository: str, ref: str, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Entry, Iterator[bytes]]:
        """The entry and a stream of its bytes ``[start, end)``."""
        ...

    def open_entry(
        self, entry: Entry, *, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Stream the bytes of an entry already fetched with ``get_entry``."""
        ...

    def stage_entry(
        self,
        repository: str,
        branch: str,
        entry: Entry,
        *,
        if_absent: bool = False,
        if_match: str | None = None,
        force: bool = False,
    ) -> Entry:
        """Stage an entry whose content is already stored (link physical address,
        copy, import, S3 multipart completion)."""
        ...

    def delete_object(
        self, repository: str, branch: str, path: str, *, force: bool = False
    ) -> None:
        """Stage a delete (tombstone). ``NotFound`` when the path is not visible."""
        ...

    def delete_objects(
        self, repository: str, branch: str, paths: Sequence[str], *, force: bool = False
    ) -> dict[str, str]:
        """Delete many paths; returns ``{path: error message}`` for those that failed."""
        ...

    def copy_object(
        self,
        repository: str,
        source_ref: str,
        source_path: str,
        dest_branch: str,
        dest_path: str,
        *,
        force: bool = False,
    ) -> Entry:
        """Stage ``dest_path`` pointing at the source's content (no data copy)."""
        ...

    def update_object_metadata(
        self, repository: str, branch: str, path: str, metadata: dict[str, str]
    ) -> None: ...

    def new_physical_address(self, repository: str) -> str:
        """A fresh, unique address under the repository's storage namespace."""
        ...

    def import_from(
        self,
        repository: str,
        branch: str,
        source_prefix: str,
        destination_prefix: str,
        committer: str,
        *,
        message: str = "Import",
        metadata: dict[str, str] | None = None,
        force: bool = False,
    ) -> Commit:
        """Zero-copy import: entries under ``destination_prefix`` pointing at every blob
        under the block-store ``source_prefix``, committed as one commit."""
        ...

    def verify(self, repository: str) -> list[str]:
        """fsck: check refs, commits and trees reachable from every branch and tag are
        present and well-formed; return the list of problems (empty when consistent)."""
        ...
