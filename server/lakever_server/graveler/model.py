"""Records of the versioning core and their encodings.

Everything graveler keeps in the metadata store is one of these records, encoded as
canonical JSON (sorted keys, no spaces) so that a compare-and-set on the encoded bytes
compares the whole record. Commit ids are the SHA-256 hex of a commit's canonical
encoding, so equal commits have equal ids and a commit record can never be altered.

Values (what trees and staging map keys to) are opaque to graveler except for their
*identity*: ``Value.encode`` prefixes the data with an identity digest chosen by the
caller (the catalog hashes address, checksum, size, content type and user metadata).
Two values with the same identity are the same change for merge purposes even when
other bytes (such as mtime) differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from lakever_server.errors import InvalidValue


def canonical_json(data: Any) -> bytes:
    """The one canonical encoding: sorted keys, compact separators, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _load(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidValue(f"corrupt {kind} record") from exc
    if not isinstance(data, dict):
        raise InvalidValue(f"corrupt {kind} record")
    return data


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A tree or staging value: an identity digest and the caller's data."""

    identity: bytes
    data: bytes

    def encode(self) -> bytes:
        if len(self.identity) > 255:
            raise InvalidValue("value identity longer than 255 bytes")
        return bytes([len(self.identity)]) + self.identity + self.data

    @staticmethod
    def decode(raw: bytes) -> Value:
        size = raw[0]
        return Value(identity=raw[1 : 1 + size], data=raw[1 + size :])


def value_identity(raw: bytes | None) -> bytes | None:
    """The identity of an encoded value (``None`` for an absent value), cheaply."""
    if raw is None:
        return None
    return raw[1 : 1 + raw[0]]


# -- repositories ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryRecord:
    """A repository; ``instance_id`` names its metadata partition (unique per creation)."""

    id: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    instance_id: str
    read_only: bool = False

    def encode(self) -> bytes:
        return canonical_json(self.__dict__)

    @staticmethod
    def decode(raw: bytes) -> RepositoryRecord:
        data = _load(raw, "repository")
        return RepositoryRecord(
            id=str(data["id"]),
            storage_namespace=str(data["storage_namespace"]),
            default_branch=str(data["default_branch"]),
            creation_date=int(data["creation_date"]),
            instance_id=str(data["instance_id"]),
            read_only=bool(data.get("read_only", False)),
        )


# -- branches -------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchRecord:
    """A branch head: its commit, current staging token and sealed tokens (newest first).

    Sealed tokens belong to commits in progress (or interrupted): they are read like
    staging until a commit that includes them moves the head and drops them.
    """

    commit_id: str
    staging_token: str
    sealed_tokens: tuple[str, ...] = ()
    hidden: bool = False

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every staging token to read, newest (highest priority) first."""
        return (self.staging_token, *self.sealed_tokens)

    def encode(self) -> bytes:
        return canonical_json(
            {
                "commit_id": self.commit_id,
                "staging_token": self.staging_token,
                "sealed_tokens": list(self.sealed_tokens),
                "hidden": self.hidden,
            }
        )

    @staticmethod
    def decode(raw: bytes) -> BranchRecord:
        data = _load(raw, "branch")
        return BranchRecord(
            commit_id=str(data["commit_id"]),
            staging_token=str(data["staging_token"]),
            sealed_tokens=tuple(str(t) for t in data.get("sealed_tokens", [])),
            hidden=bool(data.get("hidden", False)),
        )

    def with_changes(self, **changes: Any) -> BranchRecord:
        return replace(self, **changes)


# -- commits --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitRecord:
    """A commit. ``id`` is derived from every other field (see ``compute_id``)."""

    parents: tuple[str, ...]
    committer: str
    message: str
    creation_date: int
    meta_range_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    generation: int = 1
    version: int = 1
    id: str = ""

    def content(self) -> dict[str, Any]:
        return {
            "parents": list(self.parents),
            "committer": self.committer,
            "message": self.message,
            "creation_date": self.creation_date,
            "meta_range_id": self.meta_range_id,
            "metadata": dict(self.metadata),
            "generation": self.generation,
            "version": self.version,
        }

    def compute_id(self) -> str:
        return hashlib.sha256(canonical_json(self.content())).hexdigest()

    def sealed(self) -> CommitRecord:
        """This commit with its content-derived ``id`` filled in."""
        return replace(self, id=self.compute_id())

    def encode(self) -> bytes:
        return canonical_json(self.content())

    @staticmethod
    def decode(raw: bytes) -> CommitRecord:
        data = _load(raw, "commit")
        record = CommitRecord(
            parents=tuple(str(p) for p in data["parents"]),
            committer=str(data["committer"]),
            message=str(data["message"]),
            creation_date=int(data["creation_date"]),
            meta_range_id=str(data["meta_range_id"]),
            metadata={str(k): str(v) for k, v in data.get("metadata", {}).items()},
            generation=int(data.get("generation", 1)),
            version=int(data.get("version", 1)),
        )
        return record.sealed()


# -- tags -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRecord:
    id: str
    commit_id: str
