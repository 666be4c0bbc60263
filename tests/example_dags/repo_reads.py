"""Reading a repository back in assertions, with ``lakefs_sdk`` (not the provider)."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def log(client: Any, repository: str, ref: str, amount: int = 100) -> list[Any]:
    """The commits of ``ref``, newest first."""
    return list(client.refs_api.log_commits(repository, ref, amount=amount).results)


def branches(client: Any, repository: str) -> list[str]:
    return [b.id for b in client.branches_api.list_branches(repository, amount=1000).results]


def objects(client: Any, repository: str, ref: str, prefix: str) -> list[Any]:
    return list(
        client.objects_api.list_objects(repository, ref, prefix=prefix, amount=1000).results
    )


def parquet(client: Any, repository: str, ref: str, path: str) -> pa.Table:
    return pq.read_table(io.BytesIO(bytes(client.objects_api.get_object(repository, ref, path))))
