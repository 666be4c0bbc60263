"""The one error taxonomy of lakever-server.

Every layer raises these; protocols map them to wire errors in exactly one place each
(``api.errors`` to lakeFS JSON, ``gateway.errors`` to S3 XML). Each error carries
structured fields so a handler never parses a message. The HTTP status of each kind is
defined here once (``http_status``), for the JSON API and the web UI alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LakeverError(Exception):
    """Base of every domain error. ``message`` is safe to show to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(LakeverError):
    """A name, id, ref expression, path or parameter is malformed (HTTP 400)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LakeverError):
    """The named thing does not exist (HTTP 404)."""

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class AlreadyExists(LakeverError):
    """Creating something that exists already (HTTP 409)."""

    def __init__(self, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name


class Conflict(LakeverError):
    """The request conflicts with the current state (HTTP 409)."""


@dataclass(frozen=True)
class ConflictingPath:
    """One path that a merge could not reconcile, and why."""

    path: str
    reason: str
    source: str | None = None  # "added" | "changed" | "removed" on the source side
    destination: str | None = None  # the same on the destination side


class MergeConflict(Conflict):
    """A three-way merge found paths changed differently on both sides (HTTP 409)."""

    def __init__(self, conflicts: Sequence[ConflictingPath]) -> None:
        paths = ", ".join(c.path for c in conflicts[:10])
        more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        super().__init__(f"conflict found: {len(conflicts)} conflicting paths: {paths}{more}")
        self.conflicts = list(conflicts)


class PreconditionFailed(LakeverError):
    """A compare-and-set or ``If-Match`` precondition did not hold (HTTP 412)."""


class NoChanges(LakeverError):
    """A commit or merge with nothing to record, without ``allow_empty`` (HTTP 400)."""


class DirtyBranch(LakeverError):
    """The operation needs a branch without uncommitted changes (HTTP 400)."""


class ProtectedBranch(LakeverError):
    """A direct write, commit, reset or delete on a protected branch (HTTP 403)."""

    def __init__(self, message: str = "cannot write to protected branch") -> None:
        super().__init__(message)


class Unauthorized(LakeverError):
    """Missing or invalid credentials (HTTP 401)."""


class Forbidden(LakeverError):
    """Authenticated but not allowed (HTTP 403)."""


class ReadOnlyRepository(Forbidden):
    """A write to a repository created ``read_only``, without ``force`` (HTTP 403).

    A ``Forbidden``, so every protocol refuses it as it refuses other denied writes
    (S3 ``AccessDenied``, WebHDFS ``AccessControlException``).
    """

    def __init__(self, message: str = "read-only repository") -> None:
        super().__init__(message)


class TooManyRequests(LakeverError):
    """The store is busy (e.g. a branch-head race lost too many times); retry (HTTP 429)."""


class RangeNotSatisfiable(LakeverError):
    """A ``Range`` header outside the object (HTTP 416)."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


# Most specific first: MergeConflict before Conflict, ReadOnlyRepository (a Forbidden)
# before Forbidden, and so on.
HTTP_STATUS: tuple[tuple[type[LakeverError], int], ...] = (
    (InvalidValue, 400),
    (NoChanges, 400),
    (DirtyBranch, 400),
    (Unauthorized, 401),
    (ProtectedBranch, 403),
    (Forbidden, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (MergeConflict, 409),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (RangeNotSatisfiable, 416),
    (TooManyRequests, 429),
)


def http_status(error: LakeverError) -> int:
    """The HTTP status that answers ``error``; 500 for a kind with none (a bug)."""
    for kind, status in HTTP_STATUS:
        if isinstance(error, kind):
            return status
    return 500
