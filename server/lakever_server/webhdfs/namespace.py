"""A Hadoop filesystem view of repositories: ``/<repo>/<ref>/<path>``, directories implied.

Object stores have no directories: a directory exists when some key lies below it (as
Spark on object stores expects). ``mkdirs`` of a directory with nothing below it stores
an empty marker object ``<dir>/`` so an empty output directory exists until files land;
listings hide markers. Renames are metadata-only: each entry is re-staged under its new
name pointing at the same content, then the old names are deleted.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lakever_server import errors
from lakever_server.catalog.models import CommonPrefix, Entry, Page
from lakever_server.storage.block.base import BodyReader, Content, PrefixedReader
from lakever_server.webhdfs.errors import (
    ALREADY_EXISTS,
    IO,
    PATH_IS_NOT_EMPTY,
    WebHdfsError,
)

PAGE = 1000


@dataclass(frozen=True)
class Location:
    """Where a WebHDFS path points: ``repository``/``ref`` are "" above them."""

    repository: str = ""
    ref: str = ""
    path: str = ""

    @property
    def is_object_path(self) -> bool:
        return bool(self.path)

    def child(self, name: str) -> Location:
        if not self.repository:
            return Location(name)
        if not self.ref:
            return Location(self.repository, name)
        return Location(self.repository, self.ref, f"{self.path}/{name}" if self.path else name)

    @property
    def dir_prefix(self) -> str:
        """The key prefix of everything below this directory."""
        return f"{self.path}/" if self.path else ""

    def __str__(self) -> str:
        return "/" + "/".join(p for p in (self.repository, self.ref, self.path) if p)


def parse_location(path: str) -> Location:
    """``/repo/branch/a/b`` as a ``Location``; ``.``/``..`` and empty segments refused."""
    segments = [s for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise errors.InvalidValue(f"invalid path {path!r}", field="path")
    repository = segments[0] if segments else ""
    ref = segments[1] if len(segments) > 1 else ""
    return Location(repository, ref, "/".join(segments[2:]))


@dataclass(frozen=True)
class FileStatus:
    name: str  # the path suffix within a listing; "" for the status of a path itself
    is_dir: bool
    length: int = 0
    mtime_ms: int = 0


def _entry_status(entry: Entry, name: str) -> FileStatus:
    return FileStatus(name, False, entry.size_bytes, entry.mtime * 1000)


class Namespace:
    """Filesystem operations over a ``CatalogService``."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    # -- reading ------------------------------------------------------------------------
    def _entry(self, loc: Location) -> Entry | None:
        try:
            entry: Entry = self.catalog.get_entry(loc.repository, loc.ref, loc.path)
        except errors.NotFound as missing:
            if missing.kind in ("repository", "branch", "ref", "commit", "tag"):
                raise
            return None
        return entry

    def _has_children(self, loc: Location) -> bool:
        # Delimited: a page of one reads on to a second visible key (to tell whether
        # more remain), and a delimited listing reaches it past the first child folder in
        # one seek instead of stepping over every deletion staged inside that folder (a
        # committer's moves out of ``_temporary/`` leave one per file).
        page: Page[Entry | CommonPrefix] = self.catalog.list_entries(
            loc.repository, loc.ref, prefix=loc.dir_prefix, delimiter="/", amount=1
        )
        return bool(page.results)

    def status(self, loc: Location) -> FileStatus:
        """The path's status; ``NotFound`` when neither an object nor a directory."""
        if not loc.repository:
            return FileStatus("", True)
        if not loc.ref:
            repository = self.catalog.get_repository(loc.repository)
            return FileStatus("", True, mtime_ms=repository.creation_date * 1000)
        if not loc.path:
            commit = self.catalog.get_commit(loc.repository, loc.ref)
            return FileStatus("", True, mtime_ms=commit.creation_date * 1000)
        entry = self._entry(loc)
        if entry is not None:
            return _entry_status(entry, "")
        if self._has_children(loc):
            return FileStatus("", True)
        raise errors.NotFound(f"File does not exist: {loc}", kind="object", name=str(loc))

    def _children(self, loc: Location, after: str) -> Iterator[FileStatus]:
        if not loc.repository:
            repositories = _pages(lambda a: self.catalog.list_repositories(after=a), after)
            for repository in repositories:
                yield FileStatus(repository.id, True, mtime_ms=repository.creation_date * 1000)
            return
        if not loc.ref:
            branches = _pages(lambda a: self.catalog.list_branches(loc.repository, after=a), after)
            for branch in branches:
                yield FileStatus(branch.id, True)
            return
        prefix = loc.dir_prefix

        def page(cursor: str) -> Page[Entry | CommonPrefix]:
            listed: Page[Entry | CommonPrefix] = self.catalog.list_entries(
                loc.repository, loc.ref, prefix=prefix, delimiter="/", after=cursor, amount=PAGE
            )
            return listed

        for item in _pages(page, after):
            name = item.path[len(prefix) :]
            if isinstance(item, CommonPrefix):
                yield FileStatus(name.rstrip("/"), True)
            elif name:  # "" is this directory's own marker
                yield _entry_status(item, name)

    def _cursor(self, loc: Location, start_after: str) -> str:
        """The catalog cursor after the child named ``start_after`` (a file sorts at its
        name, a directory after everything below it)."""
        if not start_after or not loc.ref:
            return start_after
        key = f"{loc.dir_prefix}{start_after}"
        if self._entry(loc.child(start_after)) is not None:
            return key
        return f"{key}/"

    def list_children(
        self, loc: Location, *, start_after: str = "", limit: int | None = None
    ) -> tuple[list[FileStatus], bool]:
        """The children of a directory (or the file itself), and whether more remain."""
        status = self.status(loc)
        if not status.is_dir:
            return [status], False
        children = self._children(loc, self._cursor(loc, start_after))
        if limit is None:
            return list(children), False
        listed = list(itertools.islice(children, limit + 1))
        return listed[:limit], len(listed) > limit

    def walk(self, loc: Location) -> Iterator[Entry]:
        """Every entry below a directory, markers included, in key order."""

        def page(cursor: str) -> Page[Entry | CommonPrefix]:
            listed: Page[Entry | CommonPrefix] = self.catalog.list_entries(
                loc.repository, loc.ref, prefix=loc.dir_prefix, after=cursor, amount=PAGE
            )
            return listed

        for item in _pages(page, ""):
            if isinstance(item, Entry):
                yield item

    # -- writing ------------------------------------------------------------------------
    def require_branch(self, loc: Location) -> None:
        if not loc.ref:
            raise WebHdfsError(IO, f"{loc} is not inside a branch")
        try:
            self.catalog.get_branch(loc.repository, loc.ref)
        except (errors.NotFound, errors.InvalidValue):
            self.catalog.get_commit(loc.repository, loc.ref)  # NotFound for unknown refs
            raise errors.Forbidden(
                f"{loc.ref} is not a branch: only branches are writable"
            ) from None

    def mkdirs(self, loc: Location) -> None:
        self.require_branch(loc)
        if not loc.path:
            return
        try:
            status = self.status(loc)
        except errors.NotFound:
            self.catalog.write_object(loc.repository, loc.ref, loc.dir_prefix, iter(()))
            return
        if not status.is_dir:
            raise WebHdfsError(ALREADY_EXISTS, f"Path is not a directory: {loc}")

    def create(self, loc: Location, body: Content, *, overwrite: bool) -> Entry:
        self.require_branch(loc)
        if not loc.path:
            raise WebHdfsError(ALREADY_EXISTS, f"{loc} is a directory")
        if self._entry(loc) is None and self._has_children(loc):
            raise WebHdfsError(ALREADY_EXISTS, f"{loc} is a directory")
        try:
            entry: Entry = self.catalog.write_object(
                loc.repository,
                loc.ref,
                loc.path,
                body,
                if_absent=not overwrite,
                part_checksum=True,
            )
        except errors.PreconditionFailed:
            raise WebHdfsError(ALREADY_EXISTS, f"{loc} already exists") from None
        return entry

    def append(self, loc: Location, body: Content) -> Entry:
        """Objects are immutable: the new object is the old bytes then the new ones."""
        self.require_branch(loc)
        entry = self._entry(loc) if loc.path else None
        if entry is None:
            raise errors.NotFound(f"File does not exist: {loc}", kind="object", name=str(loc))
        old = self.catalog.open_entry(entry)
        combined: Content = (
            PrefixedReader(old, entry.size_bytes, body)
            if isinstance(body, BodyReader)
            else itertools.chain(old, body)
        )
        appended: Entry = self.catalog.write_object(
            loc.repository, loc.ref, loc.path, combined, if_match=entry.checksum, part_checksum=True
        )
        return appended

    def delete(self, loc: Location, *, recursive: bool) -> bool:
        self.require_branch(loc)
        if not loc.path:
            raise WebHdfsError(IO, f"cannot delete the root of branch {loc.ref}")
        if self._entry(loc) is not None:
            self.catalog.delete_object(loc.repository, loc.ref, loc.path)
            return True
        paths = [entry.path for entry in self.walk(loc)]
        if not paths:
            return False
        if not recursive and any(p != loc.dir_prefix for p in paths):
            raise WebHdfsError(PATH_IS_NOT_EMPTY, f"{loc} is non empty': Directory is not empty")
        self._delete_paths(loc, paths)
        return True

    def _delete_paths(self, loc: Location, paths: list[str]) -> None:
        for start in range(0, len(paths), PAGE):
            failed = self.catalog.delete_objects(
                loc.repository, loc.ref, paths[start : start + PAGE]
            )
            if failed:
                path, message = next(iter(failed.items()))
                raise WebHdfsError(IO, f"could not delete {path}: {message}")

    def rename(self, source: Location, target: Location) -> bool:
        """HDFS rename semantics: into an existing directory, ``False`` when the source
        is missing, the target exists as a file, or its parent does not exist."""
        self.require_branch(source)
        if (source.repository, source.ref) != (target.repository, target.ref):
            raise WebHdfsError(IO, "rename works within one branch")
        if not source.path or not target.path:
            return False
        try:
            source_status = self.status(source)
        except errors.NotFound:
            return False
        try:
            target_status: FileStatus | None = self.status(target)
        except errors.NotFound:
            target_status = None
        if target_status is not None:
            if not target_status.is_dir:
                return source.path == target.path
            target = target.child(source.path.rsplit("/", 1)[-1])
            if self._entry(target) is not None or self._has_children(target):
                return False
        elif not self._parent_is_directory(source, target):
            return False
        if target.path == source.path or target.path.startswith(source.dir_prefix):
            return False
        if not source_status.is_dir:
            self._move(source, [(source.path, target.path)])
            return True
        moves = [
            (entry.path, target.dir_prefix + entry.path[len(source.dir_prefix) :])
            for entry in self.walk(source)
        ]
        self._move(source, moves)
        return True

    def _parent_is_directory(self, source: Location, target: Location) -> bool:
        """Whether ``target``'s parent is a directory, ``source`` being known to exist.

        A parent that is also an ancestor of ``source`` (the usual case: an output
        committer renames up the tree) has something below it, so it is a directory
        unless an object has its exact name, which one point lookup answers. Listing it
        instead would read the start of a directory as large as the job's output.
        """
        parent = Location(target.repository, target.ref, target.path.rpartition("/")[0])
        if source.path.startswith(parent.dir_prefix):
            return not parent.path or self._entry(parent) is None
        try:
            return self.status(parent).is_dir
        except errors.NotFound:
            return False

    def _move(self, loc: Location, moves: list[tuple[str, str]]) -> None:
        for old, new in moves:
            self.catalog.copy_object(loc.repository, loc.ref, old, loc.ref, new)
        self._delete_paths(loc, [old for old, _ in moves])

    def summary(self, loc: Location) -> tuple[int, int, int]:
        """``(directory count, file count, total length)`` below a path (itself included)."""
        status = self.status(loc)
        if not status.is_dir:
            return 0, 1, status.length
        if not loc.ref:
            raise WebHdfsError(IO, "content summaries work inside a branch")
        directories: set[str] = {""}
        files = length = 0
        for entry in self.walk(loc):
            relative = entry.path[len(loc.dir_prefix) :]
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                directories.add("/".join(parts[:depth]))
            if parts[-1]:
                files += 1
                length += entry.size_bytes
        return len(directories), files, length


def _pages(fetch: Any, after: str) -> Iterator[Any]:
    """Every result of a paged catalog listing, starting after ``after``."""
    cursor = after
    while True:
        page = fetch(cursor)
        yield from page.results
        if not page.has_more:
            return
        cursor = page.next_after
