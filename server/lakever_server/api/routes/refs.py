"""Refs: log, diff between refs, merge and merge base."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query

from lakever_server.api import convert
from lakever_server.api.deps import (
    After,
    Amount,
    CatalogDep,
    Prefix,
    UserDep,
    check_path,
    check_prefix,
    current_user,
    page_size,
)
from lakever_server.api.schemas import Merge
from lakever_server.errors import InvalidValue

router = APIRouter(tags=["refs"], dependencies=[Depends(current_user)])
REFS = "/repositories/{repository}/refs"
MERGE = REFS + "/{sourceRef}/merge/{destinationBranch}"


@router.get(REFS + "/{ref}/commits")
def log_commits(
    repository: str,
    ref: str,
    catalog: CatalogDep,
    after: After = "",
    amount: Amount = 100,
    objects: Annotated[list[str] | None, Query()] = None,
    prefixes: Annotated[list[str] | None, Query()] = None,
    limit: bool = False,
    first_parent: bool = False,
    since: Annotated[str | None, Query(description="RFC 3339 time or epoch seconds")] = None,
    stop_at: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    page = catalog.log(
        repository,
        ref,
        after=after,
        amount=page_size(amount),
        objects=[check_path(p, "objects") for p in objects or ()],
        prefixes=[check_prefix(p, "prefixes") for p in prefixes or ()],
        limit=limit,
        first_parent=first_parent,
        since=_epoch(since),
        stop_at=stop_at or None,
    )
    return convert.paginated(page, convert.commit)


def _epoch(value: str | None) -> int | None:
    """``since`` as epoch seconds; lakeFS clients send RFC 3339 date-times."""
    if not value:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError as err:
        raise InvalidValue("since must be an RFC 3339 date-time", field="since") from err


@router.get(REFS + "/{leftRef}/diff/{rightRef}")
def diff_refs(
    repository: str,
    leftRef: str,
    rightRef: str,
    catalog: CatalogDep,
    after: After = "",
    amount: Amount = 100,
    prefix: Prefix = "",
    delimiter: str = "",
    type: Literal["two_dot", "three_dot"] = "three_dot",
) -> dict[str, Any]:
    page = catalog.diff_refs(
        repository,
        leftRef,
        rightRef,
        diff_type=type,
        prefix=check_prefix(prefix),
        delimiter=delimiter,
        after=after,
        amount=page_size(amount),
    )
    return convert.paginated(page, convert.difference)


@router.get(MERGE)
def find_merge_base(
    repository: str,
    sourceRef: str,
    destinationBranch: str,
    catalog: CatalogDep,
) -> dict[str, Any]:
    base, source, destination = catalog.find_merge_base(repository, sourceRef, destinationBranch)
    return {
        "base_commit_id": base,
        "source_commit_id": source,
        "destination_commit_id": destination,
    }


@router.post(MERGE)
def merge_into_branch(
    repository: str,
    sourceRef: str,
    destinationBranch: str,
    catalog: CatalogDep,
    user: UserDep,
    body: Annotated[Merge | None, Body()] = None,
) -> dict[str, Any]:
    """Merge; 409 listing every conflicting path. Allowed into protected branches."""
    options = body or Merge()
    result = catalog.merge(
        repository,
        sourceRef,
        destinationBranch,
        user.id,
        message=options.message or "",
        metadata=options.metadata,
        strategy=options.strategy,
        squash=options.squash_merge,
        allow_empty=options.allow_empty,
        force=options.force,
    )
    return {"reference": result.reference}
