"""Catalog and auth records shaped as lakeFS's JSON responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lakever_server.auth import Credential, User
from lakever_server.catalog.models import (
    Branch,
    Commit,
    CommonPrefix,
    Difference,
    Entry,
    Page,
    Repository,
    Tag,
)

T = TypeVar("T")
Json = dict[str, Any]
MAX_PER_PAGE = 1000


def paginated(page: Page[T], convert: Callable[[T], Json]) -> Json:
    """``{pagination: {has_more, next_offset, results, max_per_page}, results: [...]}``."""
    results = [convert(item) for item in page.results]
    return {
        "pagination": {
            "has_more": page.has_more,
            "next_offset": page.next_after if page.has_more else "",
            "results": len(results),
            "max_per_page": MAX_PER_PAGE,
        },
        "results": results,
    }


def repository(repo: Repository) -> Json:
    return {
        "id": repo.id,
        "creation_date": repo.creation_date,
        "default_branch": repo.default_branch,
        "storage_namespace": repo.storage_namespace,
        "read_only": repo.read_only,
    }


def ref(item: Branch | Tag) -> Json:
    return {"id": item.id, "commit_id": item.commit_id}


def commit(item: Commit) -> Json:
    return {
        "id": item.id,
        "parents": list(item.parents),
        "committer": item.committer,
        "message": item.message,
        "creation_date": item.creation_date,
        "meta_range_id": item.meta_range_id,
        "metadata": dict(item.metadata),
        "generation": item.generation,
        "version": item.version,
    }


def difference(item: Difference) -> Json:
    out: Json = {"type": item.type, "path": item.path, "path_type": item.path_type}
    if item.size_bytes is not None:
        out["size_bytes"] = item.size_bytes
    return out


def object_stats(entry: Entry, *, user_metadata: bool = True) -> Json:
    out: Json = {
        "path": entry.path,
        "path_type": "object",
        "physical_address": entry.physical_address,
        "checksum": entry.checksum,
        "size_bytes": entry.size_bytes,
        "mtime": entry.mtime,
        "content_type": entry.content_type,
    }
    if user_metadata:
        out["metadata"] = dict(entry.metadata)
    return out


def listing_item(item: Entry | CommonPrefix, *, user_metadata: bool = True) -> Json:
    if isinstance(item, CommonPrefix):
        return {
            "path": item.path,
            "path_type": "common_prefix",
            "physical_address": "",
            "checksum": "",
            "mtime": 0,
        }
    return object_stats(item, user_metadata=user_metadata)


def user(item: User) -> Json:
    out: Json = {"id": item.id, "creation_date": item.creation_date}
    if item.email is not None:
        out["email"] = item.email
    if item.friendly_name is not None:
        out["friendly_name"] = item.friendly_name
    return out


def credentials(item: Credential) -> Json:
    return {"access_key_id": item.access_key_id, "creation_date": item.creation_date}


def credentials_with_secret(item: Credential) -> Json:
    return {
        "access_key_id": item.access_key_id,
        "secret_access_key": item.secret_access_key,
        "creation_date": item.creation_date,
    }


def etag(checksum: str) -> str:
    return f'"{checksum}"'
