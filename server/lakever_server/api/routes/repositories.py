"""Repositories, their metadata, GC rules and branch-protection settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse

from lakever_server import sample_data
from lakever_server.api import convert
from lakever_server.api.deps import (
    After,
    Amount,
    CatalogDep,
    Prefix,
    ServicesDep,
    UserDep,
    current_user,
    page_size,
)
from lakever_server.api.schemas import (
    BranchProtectionRule,
    GarbageCollectionRules,
    RepositoryCreation,
    RepositoryMetadataKeys,
    RepositoryMetadataSet,
)
from lakever_server.catalog import models
from lakever_server.errors import InvalidValue

router = APIRouter(tags=["repositories"], dependencies=[Depends(current_user)])
REPO = "/repositories/{repository}"


@router.get("/repositories")
def list_repositories(
    catalog: CatalogDep,
    prefix: Prefix = "",
    after: After = "",
    amount: Amount = 100,
    search: Annotated[str, Query(description="substring of the repository id")] = "",
) -> dict[str, Any]:
    page = catalog.list_repositories(
        prefix=prefix, after=after, amount=page_size(amount), search=search
    )
    return convert.paginated(page, convert.repository)


@router.post("/repositories", status_code=201)
def create_repository(
    body: RepositoryCreation,
    services: ServicesDep,
    user: UserDep,
    bare: Annotated[bool, Query(description="create without an initial commit")] = False,
) -> dict[str, Any]:
    """Create a repository; ``sample_data`` fills and protects its default branch."""
    scheme = body.storage_namespace.partition("://")[0]
    if scheme not in services.block.schemes:
        allowed = ", ".join(f"{s}://" for s in services.block.schemes)
        raise InvalidValue(
            f"storage namespace must start with {allowed}", field="storage_namespace"
        )
    if body.sample_data and bare:
        raise InvalidValue("sample_data needs a default branch; do not set bare")
    if body.sample_data and body.read_only:
        raise InvalidValue("sample_data writes to the new repository; do not set read_only")
    repo = services.catalog.create_repository(
        body.name,
        body.storage_namespace,
        body.default_branch or "main",
        bare=bare,
        creator=user.id,
        read_only=body.read_only,
    )
    if body.sample_data:
        sample_data.populate(services.catalog, repo.id, repo.default_branch, user.id)
    return convert.repository(repo)


@router.get(REPO)
def get_repository(repository: str, catalog: CatalogDep) -> dict[str, Any]:
    return convert.repository(catalog.get_repository(repository))


@router.delete(REPO, status_code=204)
def delete_repository(
    repository: str,
    catalog: CatalogDep,
    force: Annotated[bool, Query(description="delete even a read-only repository")] = False,
) -> Response:
    catalog.delete_repository(repository, force=force)
    return Response(status_code=204)


@router.get(REPO + "/metadata")
def get_repository_metadata(repository: str, catalog: CatalogDep) -> dict[str, str]:
    return catalog.get_repository_metadata(repository)


@router.post(REPO + "/metadata", status_code=204)
def set_repository_metadata(
    repository: str, body: RepositoryMetadataSet, catalog: CatalogDep
) -> Response:
    catalog.set_repository_metadata(repository, body.metadata)
    return Response(status_code=204)


@router.delete(REPO + "/metadata", status_code=204)
def delete_repository_metadata(
    repository: str, body: RepositoryMetadataKeys, catalog: CatalogDep
) -> Response:
    catalog.delete_repository_metadata(repository, body.keys)
    return Response(status_code=204)


@router.get(REPO + "/settings/gc_rules")
def get_gc_rules(repository: str, catalog: CatalogDep) -> dict[str, Any]:
    rules = catalog.gc_rules(repository)
    return {
        "default_retention_days": rules.default_retention_days,
        "branches": [
            {"branch_id": branch, "retention_days": days} for branch, days in rules.branches.items()
        ],
    }


@router.put(REPO + "/settings/gc_rules", status_code=204)
def set_gc_rules(repository: str, body: GarbageCollectionRules, catalog: CatalogDep) -> Response:
    rules = models.GarbageCollectionRules(
        default_retention_days=body.default_retention_days,
        branches={rule.branch_id: rule.retention_days for rule in body.branches},
    )
    catalog.set_gc_rules(repository, rules)
    return Response(status_code=204)


@router.delete(REPO + "/settings/gc_rules", status_code=204)
def delete_gc_rules(repository: str, catalog: CatalogDep) -> Response:
    catalog.delete_gc_rules(repository)
    return Response(status_code=204)


@router.get(REPO + "/settings/branch_protection")
def get_branch_protection_rules(repository: str, catalog: CatalogDep) -> JSONResponse:
    rules, etag = catalog.protection_rules(repository)
    return JSONResponse(
        [{"pattern": rule.pattern} for rule in rules], headers={"ETag": convert.etag(etag)}
    )


@router.put(REPO + "/settings/branch_protection", status_code=204)
def set_branch_protection_rules(
    repository: str,
    body: list[BranchProtectionRule],
    catalog: CatalogDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Replace the rules; with ``If-Match`` only when the ETag still matches (else 412)."""
    rules = [models.BranchProtectionRule(pattern=rule.pattern) for rule in body]
    expected = if_match.strip().strip('"') if if_match else None
    etag = catalog.set_protection_rules(repository, rules, if_match=expected)
    return Response(status_code=204, headers={"ETag": convert.etag(etag)})
