"""The hook: one ``lakefs-sdk`` client per connection, with retries and idempotent writes.

Every request goes through :class:`~airflow_provider_lakever.hooks.retry.RetryPolicy`.
Writes that a lost response could make ambiguous (commit, merge, revert) carry an
*idempotency key* in their metadata; before re-sending, the hook looks for a commit with
that key, so a retry never records the same change twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cached_property, partial
from typing import Any, TypeVar

from airflow.sdk import BaseHook
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.configuration import Configuration
from lakefs_sdk.exceptions import ApiException, NotFoundException
from lakefs_sdk.models.branch_creation import BranchCreation
from lakefs_sdk.models.commit import Commit
from lakefs_sdk.models.commit_creation import CommitCreation
from lakefs_sdk.models.diff import Diff
from lakefs_sdk.models.merge import Merge
from lakefs_sdk.models.object_stats import ObjectStats
from lakefs_sdk.models.revert_creation import RevertCreation
from lakefs_sdk.models.tag_creation import TagCreation

from airflow_provider_lakever.exceptions import LakeverError, MergeConflictError
from airflow_provider_lakever.hooks.connection import ServerSettings
from airflow_provider_lakever.hooks.retry import RetryPolicy, is_transient
from airflow_provider_lakever.utils.stamps import IDEMPOTENCY_KEY

#: How deep in a branch's log the hook looks for a commit an earlier attempt made.
RECOVERY_DEPTH = 50
T = TypeVar("T")
_PAGE = 1000


def error_message(exc: ApiException) -> str:
    """The server's own message from a lakeFS JSON error body, else the HTTP reason.

    :param exc: an error raised by a ``lakefs_sdk`` call.
    """
    body = exc.body
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip()
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])
    return f"HTTP {exc.status} {exc.reason or ''}".strip()


class LakeverHook(BaseHook):
    """Talk to a lakever server (or any lakeFS) over the lakeFS REST API.

    :param lakever_conn_id: the Airflow connection: type ``lakever``, or ``http`` with
        lakeFS-style extras.
    :param retry_policy: overrides the policy read from the connection's extras.
    """

    conn_name_attr = "lakever_conn_id"
    default_conn_name = "lakever_default"
    conn_type = "lakever"
    hook_name = "lakever"

    def __init__(
        self,
        lakever_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        settings: ServerSettings | None = None,
    ) -> None:
        super().__init__()
        self.lakever_conn_id = lakever_conn_id
        self._retry_override = retry_policy
        if settings is not None:
            self.__dict__["settings"] = settings

    @classmethod
    async def for_async(cls, lakever_conn_id: str) -> LakeverHook:
        """Build a hook from an async context (a trigger) without blocking the event loop.

        :param lakever_conn_id: the Airflow connection id.
        """
        conn = await cls.aget_connection(lakever_conn_id)
        return cls(lakever_conn_id, settings=_settings_masked(conn))

    @cached_property
    def settings(self) -> ServerSettings:
        """The endpoint, credentials and retry policy from the connection."""
        return _settings_masked(self.get_connection(self.lakever_conn_id))

    @property
    def retry(self) -> RetryPolicy:
        return self._retry_override or self.settings.retry

    @cached_property
    def client(self) -> LakeFSClient:
        """The ``lakefs-sdk`` client; urllib3's own retries are off, tenacity decides."""
        settings = self.settings
        config = Configuration(
            host=settings.endpoint,
            username=settings.access_key_id,
            password=settings.secret_access_key,
        )
        config.verify_ssl = settings.verify_tls
        config.ssl_ca_cert = settings.ca_bundle
        config.retries = False  # type: ignore[assignment]
        return LakeFSClient(config)  # type: ignore[no-untyped-call]

    def get_conn(self) -> LakeFSClient:
        """Return the ``lakefs-sdk`` client."""
        return self.client

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form; kept equal to the one in ``get_provider_info``."""
        from airflow_provider_lakever.get_provider_info import get_provider_info

        (conn_type,) = get_provider_info()["connection-types"]
        return dict(conn_type["ui-field-behaviour"])

    def test_connection(self) -> tuple[bool, str]:
        """Check reachability and credentials, as the Airflow UI's *Test* button does."""
        try:
            self.client.health_check_api.health_check()
            self.client.repositories_api.list_repositories(amount=1)
        except ApiException as exc:
            return False, f"server answered: {error_message(exc)}"
        except Exception as exc:
            return False, f"cannot reach {self.settings.endpoint}: {exc}"
        return True, f"connected to {self.settings.endpoint}"

    def _call(
        self, what: str, request: Callable[[], T], recover: Callable[[], T | None] | None = None
    ) -> T:
        try:
            return self.retry.call(what, request, recover)
        except MergeConflictError:
            raise
        except ApiException as exc:
            raise LakeverError(f"{what} failed: {error_message(exc)}") from exc
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise LakeverError(f"{what} failed: server unreachable: {exc}") from exc

    # ---- refs and commits -------------------------------------------------------------

    def get_branch_head(self, repository: str, branch: str) -> str | None:
        """The commit id at the head of ``branch``; ``None`` when the branch is missing."""
        try:
            ref = self.retry.call(
                f"get branch {branch}",
                lambda: self.client.branches_api.get_branch(repository, branch),
            )
        except NotFoundException:
            return None
        return str(ref.commit_id)

    def resolve_commit(self, repository: str, ref: str) -> Commit:
        """Resolve any ref expression (branch, tag, commit id, ``main^1``) to its commit.

        Uses the log rather than ``get_commit`` because every lakeFS-compatible server
        resolves full ref expressions there.
        """
        page = self._call(
            f"resolve {ref}",
            lambda: self.client.refs_api.log_commits(repository, ref, amount=1),
        )
        if not page.results:
            raise LakeverError(f"ref {ref!r} of {repository!r} has no commit")
        commit: Commit = page.results[0]
        return commit

    def iter_log(
        self, repository: str, ref: str, *, limit: int = RECOVERY_DEPTH
    ) -> Iterator[Commit]:
        """Walk the log of ``ref``, newest first, at most ``limit`` commits."""
        after: str | None = None
        seen = 0
        while seen < limit:
            amount = min(_PAGE, limit - seen)
            page = self._call(
                f"log {ref}",
                partial(
                    self.client.refs_api.log_commits, repository, ref, amount=amount, after=after
                ),
            )
            for commit in page.results:
                yield commit
                seen += 1
            if not page.pagination.has_more or not page.results:
                return
            after = page.pagination.next_offset

    def find_commit(
        self,
        repository: str,
        ref: str,
        predicate: Callable[[Commit], bool],
        *,
        limit: int = RECOVERY_DEPTH,
    ) -> Commit | None:
        """The newest commit in the log of ``ref`` that satisfies ``predicate``."""
        return next((c for c in self.iter_log(repository, ref, limit=limit) if predicate(c)), None)

    def find_keyed_commit(self, repository: str, ref: str, key: str) -> Commit | None:
        """The newest commit of ``ref`` stamped with idempotency key ``key``."""
        return self.find_commit(
            repository, ref, lambda c: (c.metadata or {}).get(IDEMPOTENCY_KEY) == key
        )

    def is_ancestor(self, repository: str, commit_id: str, ref: str, *, limit: int = 5000) -> bool:
        """Whether ``commit_id`` is in the history of ``ref`` (within ``limit`` commits)."""
        return (
            self.find_commit(repository, ref, lambda c: c.id == commit_id, limit=limit) is not None
        )

    # ---- branches ---------------------------------------------------------------------

    def create_branch(self, repository: str, branch: str, source: str) -> str:
        """Create ``branch`` from ``source``; return its head commit id.

        :raises LakeverError: with HTTP 409 as ``__cause__`` when it exists already.
        """
        self._call(
            f"create branch {branch}",
            lambda: self.client.branches_api.create_branch(
                repository, BranchCreation.from_dict({"name": branch, "source": source})
            ),
        )
        head = self.get_branch_head(repository, branch)
        if head is None:
            raise LakeverError(f"branch {branch!r} vanished right after its creation")
        return head

    def delete_branch(self, repository: str, branch: str) -> bool:
        """Delete ``branch``; return ``False`` when it did not exist."""
        try:
            self.retry.call(
                f"delete branch {branch}",
                lambda: self.client.branches_api.delete_branch(repository, branch),
            )
        except NotFoundException:
            return False
        except ApiException as exc:
            raise LakeverError(f"delete branch {branch} failed: {error_message(exc)}") from exc
        return True

    def has_uncommitted_changes(self, repository: str, branch: str) -> bool:
        """Whether ``branch`` has staged changes that no commit records yet."""
        page = self._call(
            f"diff uncommitted on {branch}",
            lambda: self.client.branches_api.diff_branch(repository, branch, amount=1),
        )
        return bool(page.results)

    # ---- writes that record commits -----------------------------------------------------

    def commit(
        self,
        repository: str,
        branch: str,
        *,
        message: str,
        metadata: dict[str, str],
        allow_empty: bool = False,
    ) -> Commit:
        """Commit the staged changes of ``branch``.

        When ``metadata`` holds an idempotency key, a commit that an earlier, failed attempt
        recorded is found and returned instead of committing again.
        """
        key = metadata.get(IDEMPOTENCY_KEY)
        creation = CommitCreation.from_dict(
            {"message": message, "metadata": metadata, "allow_empty": allow_empty}
        )
        commit: Commit = self._call(
            f"commit on {branch}",
            lambda: self.client.commits_api.commit(repository, branch, creation),
            (lambda: self.find_keyed_commit(repository, branch, key)) if key else None,
        )
        return commit

    def merge(
        self,
        repository: str,
        source: str,
        destination: str,
        *,
        message: str | None = None,
        metadata: dict[str, str] | None = None,
        strategy: str | None = None,
        squash: bool = False,
        allow_empty: bool = False,
    ) -> str:
        """Merge ``source`` into ``destination``; return the merge commit id.

        :raises MergeConflictError: listing every conflicting path, on HTTP 409.
        """
        metadata = dict(metadata or {})
        key = metadata.get(IDEMPOTENCY_KEY)
        body = Merge.from_dict(
            {
                "message": message,
                "metadata": metadata,
                "strategy": strategy,
                "squash_merge": squash,
                "allow_empty": allow_empty,
            }
        )

        def request() -> str:
            try:
                result = self.client.refs_api.merge_into_branch(
                    repository, source, destination, merge=body
                )
            except ApiException as exc:
                if exc.status == 409:
                    raise self._conflict(repository, source, destination, exc) from exc
                raise
            return str(result.reference)

        def recover() -> str | None:
            found = self.find_keyed_commit(repository, destination, key) if key else None
            return found.id if found else None

        return self._call(f"merge {source} into {destination}", request, recover)

    def _conflict(
        self, repository: str, source: str, destination: str, exc: ApiException
    ) -> MergeConflictError:
        message = error_message(exc)
        return MergeConflictError(
            source=source,
            destination=destination,
            paths=self.conflicting_paths(repository, source, destination, message),
            server_message=message,
        )

    def conflicting_paths(
        self, repository: str, source: str, destination: str, server_message: str = ""
    ) -> list[str]:
        """Paths changed on both sides since the merge base (plus any the server named).

        Computed from two three-dot diffs, so it works on any lakeFS-compatible server,
        including one whose conflict error does not list paths.
        """
        paths: set[str] = set()
        try:
            on_source = {d.path for d in self.diff(repository, destination, source)}
            on_destination = {d.path for d in self.diff(repository, source, destination)}
            paths = on_source & on_destination
        except LakeverError as exc:
            self.log.warning("could not compute the conflicting paths: %s", exc)
        _, _, listed = server_message.partition("conflicting paths:")
        for part in listed.split(","):
            path = part.strip()
            if path and " and " not in path:
                paths.add(path)
        return sorted(paths)

    def revert(
        self,
        repository: str,
        branch: str,
        commit: Commit,
        *,
        parent_number: int = 1,
        message: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Revert one resolved commit on ``branch``; return the new head commit id.

        :param parent_number: for a merge commit, the parent (from 1) to revert relative to;
            ignored for an ordinary commit.
        """
        metadata = dict(metadata or {})
        key = metadata.get(IDEMPOTENCY_KEY)
        creation = RevertCreation.from_dict(
            {
                "ref": commit.id,
                "parent_number": parent_number if len(commit.parents) > 1 else 0,
                "commit_overrides": {"message": message, "metadata": metadata or None},
            }
        )

        def request() -> str:
            self.client.branches_api.revert_branch(repository, branch, creation)
            head = self.get_branch_head(repository, branch)
            return str(head)

        def recover() -> str | None:
            found = self.find_keyed_commit(repository, branch, key) if key else None
            return found.id if found else None

        return self._call(f"revert {commit.id[:12]} on {branch}", request, recover)

    def create_tag(self, repository: str, tag: str, ref: str) -> str:
        """Tag ``ref``; a tag that exists on the same commit is success. Return its commit."""
        commit_id = self.resolve_commit(repository, ref).id
        try:
            created = self.retry.call(
                f"tag {tag}",
                lambda: self.client.tags_api.create_tag(
                    repository, TagCreation.from_dict({"id": tag, "ref": commit_id})
                ),
            )
            return str(created.commit_id)
        except ApiException as exc:
            if exc.status != 409:
                raise LakeverError(f"tag {tag} failed: {error_message(exc)}") from exc
        existing = self._call(
            f"get tag {tag}", lambda: self.client.tags_api.get_tag(repository, tag)
        )
        if existing.commit_id != commit_id:
            raise LakeverError(
                f"tag {tag!r} exists on commit {existing.commit_id}, not on {commit_id}"
            )
        return str(existing.commit_id)

    # ---- objects and diffs ------------------------------------------------------------

    def diff(
        self,
        repository: str,
        left: str,
        right: str,
        *,
        prefix: str | None = None,
        diff_type: str = "three_dot",
    ) -> Iterator[Diff]:
        """The changes from ``left`` to ``right``; ``three_dot`` diffs from the merge base."""
        after: str | None = None
        while True:
            page = self._call(
                f"diff {left}...{right}",
                partial(
                    self.client.refs_api.diff_refs,
                    repository,
                    left,
                    right,
                    after=after,
                    amount=_PAGE,
                    prefix=prefix,
                    type=diff_type,
                ),
            )
            yield from page.results
            if not page.pagination.has_more or not page.results:
                return
            after = page.pagination.next_offset

    def list_objects(
        self, repository: str, ref: str, *, prefix: str = "", limit: int | None = None
    ) -> Iterator[ObjectStats]:
        """Objects under ``prefix`` at ``ref``, in path order."""
        after: str | None = None
        seen = 0
        while limit is None or seen < limit:
            amount = _PAGE if limit is None else min(_PAGE, limit - seen)
            page = self._call(
                f"list {prefix!r} at {ref}",
                partial(
                    self.client.objects_api.list_objects,
                    repository,
                    ref,
                    prefix=prefix or None,
                    after=after,
                    amount=amount,
                ),
            )
            for stats in page.results:
                yield stats
                seen += 1
            if not page.pagination.has_more or not page.results:
                return
            after = page.pagination.next_offset

    def stat_object(self, repository: str, ref: str, path: str) -> ObjectStats | None:
        """Stats of ``path`` at ``ref``; ``None`` when it does not exist there."""
        try:
            return self.retry.call(
                f"stat {path} at {ref}",
                lambda: self.client.objects_api.stat_object(repository, ref, path),
            )
        except NotFoundException:
            return None
        except ApiException as exc:
            raise LakeverError(f"stat {path} failed: {error_message(exc)}") from exc

    def upload(self, repository: str, branch: str, path: str, content: bytes) -> ObjectStats:
        """Upload ``content`` to ``path`` on ``branch`` (staged until committed)."""
        return self._call(
            f"upload {path} to {branch}",
            lambda: self.client.objects_api.upload_object(
                repository, branch, path, content=content
            ),
        )

    def get_object(self, repository: str, ref: str, path: str) -> bytes:
        """The content of ``path`` at ``ref``."""
        data = self._call(
            f"get {path} at {ref}",
            lambda: self.client.objects_api.get_object(repository, ref, path),
        )
        return bytes(data)


def _settings_masked(conn: Any) -> ServerSettings:
    settings = ServerSettings.from_connection(conn)
    if settings.secret_access_key:
        from airflow.sdk.log import mask_secret

        mask_secret(settings.secret_access_key)
    return settings
