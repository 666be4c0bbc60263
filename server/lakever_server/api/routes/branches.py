"""Branches: list, create, get, delete, reset, hard reset, revert, cherry-pick, diff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import PlainTextResponse

from lakever_server.api import convert
from lakever_server.api.deps import (
    After,
    Amount,
    CatalogDep,
    Prefix,
    UserDep,
    check_prefix,
    current_user,
    page_size,
)
from lakever_server.api.schemas import (
    BranchCreation,
    CherryPickCreation,
    ResetCreation,
    RevertCreation,
)
from lakever_server.errors import InvalidValue

router = APIRouter(tags=["branches"], dependencies=[Depends(current_user)])
BRANCHES = "/repositories/{repository}/branches"
BRANCH = BRANCHES + "/{branch}"
Delimiter = Annotated[str, Query(description="group paths by this delimiter")]


@router.get(BRANCHES)
def list_branches(
    repository: str,
    catalog: CatalogDep,
    prefix: Prefix = "",
    after: After = "",
    amount: Amount = 100,
    show_hidden: bool = False,
) -> dict[str, Any]:
    page = catalog.list_branches(
        repository, prefix=prefix, after=after, amount=page_size(amount), show_hidden=show_hidden
    )
    return convert.paginated(page, convert.ref)


@router.post(BRANCHES, status_code=201, response_class=PlainTextResponse)
def create_branch(repository: str, body: BranchCreation, catalog: CatalogDep) -> PlainTextResponse:
    """Create a branch; the body of the 201 is its commit id as text, as in lakeFS."""
    branch = catalog.create_branch(
        repository, body.name, body.source, hidden=body.hidden, force=body.force
    )
    return PlainTextResponse(branch.commit_id, status_code=201)


@router.get(BRANCH)
def get_branch(repository: str, branch: str, catalog: CatalogDep) -> dict[str, Any]:
    return convert.ref(catalog.get_branch(repository, branch))


@router.delete(BRANCH, status_code=204)
def delete_branch(
    repository: str, branch: str, catalog: CatalogDep, force: bool = False
) -> Response:
    catalog.delete_branch(repository, branch, force=force)
    return Response(status_code=204)


@router.put(BRANCH, status_code=204)
def reset_branch(
    repository: str, branch: str, body: ResetCreation, catalog: CatalogDep
) -> Response:
    """Drop uncommitted changes: all (``reset``), one ``object`` or a ``common_prefix``."""
    if body.type != "reset" and not body.path:
        raise InvalidValue(f"reset of type {body.type} needs a path", field="path")
    path = check_prefix(body.path or "") if body.type != "reset" else None
    catalog.reset_branch(
        repository,
        branch,
        path=path if body.type == "object" else None,
        prefix=path if body.type == "common_prefix" else None,
        force=body.force,
    )
    return Response(status_code=204)


@router.put(BRANCH + "/hard_reset", status_code=204)
def hard_reset_branch(
    repository: str,
    branch: str,
    catalog: CatalogDep,
    ref: Annotated[str, Query(description="the ref to point the branch at")],
    force: bool = False,
) -> Response:
    catalog.hard_reset_branch(repository, branch, ref, force=force)
    return Response(status_code=204)


@router.post(BRANCH + "/revert", status_code=204)
def revert_branch(
    repository: str, branch: str, body: RevertCreation, catalog: CatalogDep, user: UserDep
) -> Response:
    overrides = body.commit_overrides
    catalog.revert(
        repository,
        branch,
        [body.ref],
        user.id,
        parent_number=body.parent_number,
        message=(overrides.message or "") if overrides else "",
        metadata=overrides.metadata if overrides else None,
        allow_empty=body.allow_empty,
        force=body.force,
    )
    return Response(status_code=204)


@router.post(BRANCH + "/cherry-pick", status_code=201)
def cherry_pick(
    repository: str, branch: str, body: CherryPickCreation, catalog: CatalogDep, user: UserDep
) -> dict[str, Any]:
    commit = catalog.cherry_pick(
        repository,
        branch,
        body.ref,
        user.id,
        parent_number=body.parent_number or 0,
        force=body.force,
    )
    return convert.commit(commit)


@router.get(BRANCH + "/diff")
def diff_branch(
    repository: str,
    branch: str,
    catalog: CatalogDep,
    after: After = "",
    amount: Amount = 100,
    prefix: Prefix = "",
    delimiter: Delimiter = "",
) -> dict[str, Any]:
    """The branch's uncommitted changes."""
    page = catalog.diff_uncommitted(
        repository,
        branch,
        prefix=check_prefix(prefix),
        delimiter=delimiter,
        after=after,
        amount=page_size(amount),
    )
    return convert.paginated(page, convert.difference)
