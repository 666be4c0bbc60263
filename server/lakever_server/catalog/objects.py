"""Object operations of the catalog: read, list, write, stage, delete, copy, import.

Content is written once, to ``<namespace>/data/<uuid>``, and then only referenced.
Conditional writes (``if_absent``, ``if_match``) are checked against the visible entry
and staged by compare-and-set (see ``Graveler.set``); when the check fails the fresh
content is deleted, never linked.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from lakever_server.catalog import convert
from lakever_server.catalog.entries import (
    decode_entry,
    decode_listed_entry,
    encode_entry,
    validate_path,
    validate_prefix,
)
from lakever_server.catalog.listing import list_page
from lakever_server.catalog.models import Commit, CommonPrefix, Entry, Page
from lakever_server.catalog.settings import RepositorySettings
from lakever_server.errors import InvalidValue, LakeverError, NotFound, PreconditionFailed
from lakever_server.graveler.graveler import CommitRequest, Graveler
from lakever_server.graveler.names import validate_amount
from lakever_server.storage.block.base import (
    BlockStore,
    Content,
    parse_address,
    put_content,
)

DEFAULT_CONTENT_TYPE = "application/octet-stream"


def new_address(namespace: str) -> str:
    return f"{namespace.rstrip('/')}/data/{uuid.uuid4().hex}"


def _condition(
    path: str, if_absent: bool, if_match: str | None
) -> Callable[[bytes | None], None] | None:
    if not if_absent and if_match is None:
        return None
    expected = if_match.strip('"') if if_match is not None else None

    def check(current: bytes | None) -> None:
        if if_absent and current is not None:
            raise PreconditionFailed(f"object {path} already exists")
        if expected is not None:
            if current is None:
                raise PreconditionFailed(f"object {path} does not exist")
            if expected != "*" and decode_entry(path, current).checksum != expected:
                raise PreconditionFailed(f"object {path} changed (ETag mismatch)")

    return check


def _must_exist(path: str) -> Callable[[bytes | None], None]:
    def check(current: bytes | None) -> None:
        if current is None:
            raise NotFound(f"object {path} not found", kind="object", name=path)

    return check


class ObjectsMixin:
    graveler: Graveler
    block: BlockStore
    settings: RepositorySettings

    def _guard(self, repository: str, branch: str, force: bool) -> None: ...

    # -- reading ----------------------------------------------------------------------
    def get_entry(self, repository: str, ref: str, path: str) -> Entry:
        key = validate_path(path)
        raw = self.graveler.get(repository, ref, key)
        if raw is None:
            raise NotFound(f"object {path} not found", kind="object", name=path)
        return decode_entry(path, raw)

    def list_entries(
        self,
        repository: str,
        ref: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        amount: int = 1000,
    ) -> Page[Entry | CommonPrefix]:
        validate_amount(amount)
        ctx = self.graveler.open(repository)
        resolved = ctx.resolve(ref)

        def folder(p: bytes) -> Entry | CommonPrefix:
            return CommonPrefix(path=p.decode())

        return list_page(
            lambda start, end: ctx.iterate(resolved, start, end),
            prefix=validate_prefix(prefix),
            delimiter=delimiter.encode(),
            after=after.encode(),
            amount=amount,
            item=decode_listed_entry,
            common_prefix=folder,
        )

    def read_object(
        self, repository: str, ref: str, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[Entry, Iterator[bytes]]:
        entry = self.get_entry(repository, ref, path)
        return entry, self.open_entry(entry, start=start, end=end)

    def open_entry(
        self, entry: Entry, *, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise InvalidValue("invalid byte range", field="range")
        return self.block.get(entry.physical_address, start, end)

    def new_physical_address(self, repository: str) -> str:
        return new_address(self.graveler.get_repository(repository).storage_namespace)

    # -- writing ----------------------------------------------------------------------
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
        validate_path(path)
        self._guard(repository, branch, force)
        address = self.new_physical_address(repository)
        stored = put_content(self.block, address, chunks, part_checksum=part_checksum)
        entry = Entry(
            path=path,
            physical_address=address,
            checksum=stored.md5,
            size_bytes=stored.size,
            mtime=int(time.time()),
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            metadata=dict(metadata or {}),
        )
        try:
            return self._stage(repository, branch, entry, _condition(path, if_absent, if_match))
        except LakeverError:
            self.block.delete(address)  # never linked: nothing can reference it
            raise

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
        validate_path(entry.path)
        self._guard(repository, branch, force)
        if entry.address_type == "relative":
            namespace = self.graveler.get_repository(repository).storage_namespace
            address = f"{namespace.rstrip('/')}/{entry.physical_address.lstrip('/')}"
            entry = replace(entry, physical_address=address, address_type="full")
        parse_address(entry.physical_address)
        if entry.size_bytes < 0:
            raise InvalidValue("size must not be negative", field="size_bytes")
        if not entry.content_type:
            entry = replace(entry, content_type=DEFAULT_CONTENT_TYPE)
        condition = _condition(entry.path, if_absent, if_match)
        return self._stage(repository, branch, entry, condition)

    def _stage(
        self,
        repository: str,
        branch: str,
        entry: Entry,
        condition: Callable[[bytes | None], None] | None,
    ) -> Entry:
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in entry.metadata.items()):
            raise InvalidValue("user metadata keys and values must be strings", field="metadata")
        key = validate_path(entry.path)
        self.graveler.set(repository, branch, key, encode_entry(entry), condition=condition)
        return entry

    def delete_object(
        self, repository: str, branch: str, path: str, *, force: bool = False
    ) -> None:
        key = validate_path(path)
        self._guard(repository, branch, force)
        self._stage_delete(repository, branch, key, path)

    def delete_objects(
        self, repository: str, branch: str, paths: Sequence[str], *, force: bool = False
    ) -> dict[str, str]:
        self._guard(repository, branch, force)  # once for the batch
        failed: dict[str, str] = {}
        for path in paths:
            try:
                self._stage_delete(repository, branch, validate_path(path), path)
            except LakeverError as exc:
                failed[path] = exc.message
        return failed

    def _stage_delete(self, repository: str, branch: str, key: bytes, path: str) -> None:
        """A tombstone for ``key``; the caller has guarded the branch."""
        self.graveler.set(repository, branch, key, None, condition=_must_exist(path))

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
        validate_path(dest_path)
        self._guard(repository, dest_branch, force)
        source = self.get_entry(repository, source_ref, source_path)
        entry = replace(source, path=dest_path, mtime=int(time.time()))
        return self._stage(repository, dest_branch, entry, None)

    def update_object_metadata(
        self, repository: str, branch: str, path: str, metadata: dict[str, str]
    ) -> None:
        self._guard(repository, branch, False)
        current = self.get_entry(repository, branch, path)
        updated = replace(current, metadata=dict(metadata))
        self._stage(repository, branch, updated, _condition(path, False, current.checksum))

    # -- import -----------------------------------------------------------------------
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
        """Commit entries for every blob under ``source_prefix`` in one bulk tree build.

        The block store lists in address order, which is also the order of the
        destination paths (same prefix swapped), so the stream feeds ``Tree.build``
        directly. Checksums are MD5s of the content, as clients verify.
        """
        self._guard(repository, branch, force)
        parse_address(source_prefix)
        validate_prefix(destination_prefix)

        def items() -> Iterator[tuple[bytes, bytes]]:
            for blob in self.block.list_prefix(source_prefix):
                path = destination_prefix + blob.address[len(source_prefix) :]
                entry = Entry(
                    path=path,
                    physical_address=blob.address,
                    checksum=self._md5(blob.address),
                    size_bytes=blob.size,
                    mtime=int(blob.mtime),
                )
                yield validate_path(path), encode_entry(entry)

        request = CommitRequest(committer, message, dict(metadata or {}))
        return convert.commit(self.graveler.import_items(repository, branch, items, request))

    def _md5(self, address: str) -> str:
        digest = hashlib.md5()
        for chunk in self.block.get(address):
            digest.update(chunk)
        return digest.hexdigest()
