"""Plain data the catalog returns to protocols (api, gateway, webhdfs, ui, cli).

Timestamps are integer epoch seconds unless named otherwise, as lakeFS's API uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

DiffType = Literal["added", "removed", "changed", "conflict", "prefix_changed"]
MergeStrategy = Literal["dest-wins", "source-wins"]
T = TypeVar("T")


@dataclass(frozen=True)
class Repository:
    id: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    read_only: bool = False


@dataclass(frozen=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    committer: str
    message: str
    creation_date: int
    meta_range_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    generation: int = 0
    version: int = 1


@dataclass(frozen=True)
class Branch:
    id: str
    commit_id: str


@dataclass(frozen=True)
class Tag:
    id: str
    commit_id: str


@dataclass(frozen=True)
class Entry:
    """One object's stats as the API shows them (``ObjectStats`` in lakeFS)."""

    path: str
    physical_address: str
    checksum: str  # hex MD5 for single-part writes, S3 multipart ETag otherwise
    size_bytes: int
    mtime: int
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    address_type: Literal["relative", "full"] = "full"


@dataclass(frozen=True)
class CommonPrefix:
    """A "folder" in a delimited listing (``path_type: common_prefix``)."""

    path: str


@dataclass(frozen=True)
class Difference:
    """One path that differs between two refs (or a branch's staging and its head)."""

    path: str
    type: DiffType
    path_type: Literal["object", "common_prefix"] = "object"
    size_bytes: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_after`` is the cursor for the next page ("" when done)."""

    results: list[T]
    has_more: bool
    next_after: str = ""


@dataclass(frozen=True)
class MergeResult:
    reference: str  # the merge commit id (or the destination head when nothing changed)
    summary: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BranchProtectionRule:
    pattern: str


@dataclass(frozen=True)
class GarbageCollectionRules:
    default_retention_days: int
    branches: dict[str, int] = field(default_factory=dict)
