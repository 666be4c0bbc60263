"""Commits: record a branch's staged changes, and read one commit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from lakever_server.api import convert
from lakever_server.api.deps import CatalogDep, UserDep, current_user
from lakever_server.api.schemas import CommitCreation
from lakever_server.errors import InvalidValue

router = APIRouter(tags=["commits"], dependencies=[Depends(current_user)])


@router.post("/repositories/{repository}/branches/{branch}/commits", status_code=201)
def commit(
    repository: str,
    branch: str,
    body: CommitCreation,
    catalog: CatalogDep,
    user: UserDep,
    source_metarange: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Commit as the authenticated user; ``date`` overrides the commit time."""
    if source_metarange:
        raise InvalidValue("committing a metarange is not supported", field="source_metarange")
    created = catalog.commit(
        repository,
        branch,
        body.message,
        user.id,
        metadata=body.metadata,
        date=body.date,
        allow_empty=body.allow_empty,
        force=body.force,
    )
    return convert.commit(created)


@router.get("/repositories/{repository}/commits/{commitId}")
def get_commit(repository: str, commitId: str, catalog: CatalogDep) -> dict[str, Any]:
    """Any ref expression resolves: a commit id, a branch, a tag, ``main~2``..."""
    return convert.commit(catalog.get_commit(repository, commitId))
