"""Conversions from graveler records to the catalog's models, and paging helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from lakever_server.catalog.models import Commit, Entry, Page, Repository
from lakever_server.graveler.model import CommitRecord, RepositoryRecord

T = TypeVar("T")


def repository(record: RepositoryRecord) -> Repository:
    return Repository(
        id=record.id,
        storage_namespace=record.storage_namespace,
        default_branch=record.default_branch,
        creation_date=record.creation_date,
        read_only=record.read_only,
    )


def commit(record: CommitRecord) -> Commit:
    return Commit(
        id=record.id,
        parents=record.parents,
        committer=record.committer,
        message=record.message,
        creation_date=record.creation_date,
        meta_range_id=record.meta_range_id,
        metadata=dict(record.metadata),
        generation=record.generation,
        version=record.version,
    )


def page(items: Iterable[T], amount: int, cursor: Callable[[T], str]) -> Page[T]:
    """Take ``amount`` items, peeking one more to know whether there are more."""
    results: list[T] = []
    for item in items:
        if len(results) == amount:
            return Page(results=results, has_more=True, next_after=cursor(results[-1]))
        results.append(item)
    return Page(results=results, has_more=False, next_after="")


def full_address(namespace: str, entry: Entry) -> str:
    """The block-store address of an entry's content (relative ones live in the namespace)."""
    if entry.address_type == "relative":
        return f"{namespace.rstrip('/')}/{entry.physical_address}"
    return entry.physical_address
