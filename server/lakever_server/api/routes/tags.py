"""Tags: list, create, get, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from lakever_server.api import convert
from lakever_server.api.deps import After, Amount, CatalogDep, Prefix, current_user, page_size
from lakever_server.api.schemas import TagCreation

router = APIRouter(tags=["tags"], dependencies=[Depends(current_user)])
TAGS = "/repositories/{repository}/tags"


@router.get(TAGS)
def list_tags(
    repository: str,
    catalog: CatalogDep,
    prefix: Prefix = "",
    after: After = "",
    amount: Amount = 100,
) -> dict[str, Any]:
    page = catalog.list_tags(repository, prefix=prefix, after=after, amount=page_size(amount))
    return convert.paginated(page, convert.ref)


@router.post(TAGS, status_code=201)
def create_tag(repository: str, body: TagCreation, catalog: CatalogDep) -> dict[str, Any]:
    return convert.ref(catalog.create_tag(repository, body.id, body.ref, force=body.force))


@router.get(TAGS + "/{tag}")
def get_tag(repository: str, tag: str, catalog: CatalogDep) -> dict[str, Any]:
    return convert.ref(catalog.get_tag(repository, tag))


@router.delete(TAGS + "/{tag}", status_code=204)
def delete_tag(repository: str, tag: str, catalog: CatalogDep, force: bool = False) -> Response:
    catalog.delete_tag(repository, tag, force=force)
    return Response(status_code=204)
