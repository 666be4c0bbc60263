"""Staging backing: hand out a physical address, then link what the client wrote there.

The address carries an expiring HMAC token (``<address>.lvlink.<expiry>.<mac>``) bound to
the repository, so linking needs no server-side state (any replica can verify it) and a
client cannot link an address it was not given, such as another repository's data.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from lakever_server.api import convert
from lakever_server.api.deps import ServicesDep, check_path, current_user
from lakever_server.api.routes.objects import ObjectPath, Presign
from lakever_server.api.schemas import StagingMetadata
from lakever_server.catalog.models import Entry
from lakever_server.errors import InvalidValue
from lakever_server.services import Services

router = APIRouter(tags=["staging"], dependencies=[Depends(current_user)])
BACKING = "/repositories/{repository}/branches/{branch}/staging/backing"
TOKEN_MARK = ".lvlink."


def issue_address(services: Services, repository: str) -> str:
    base = services.catalog.new_physical_address(repository)
    ttl = services.settings.limits.link_token_ttl_seconds
    token = services.auth.signer.sign_value(f"{repository}\n{base}", ttl)
    return f"{base}{TOKEN_MARK}{token}"


def verify_address(services: Services, repository: str, address: str) -> None:
    base, mark, token = address.rpartition(TOKEN_MARK)
    if not mark:
        raise InvalidValue("address was not issued by this server", field="physical_address")
    services.auth.signer.verify_value(f"{repository}\n{base}", token)


@router.get(BACKING)
def get_physical_address(
    repository: str,
    branch: str,
    services: ServicesDep,
    path: Annotated[str | None, ObjectPath] = None,
    presign: Presign = None,
) -> dict[str, Any]:
    """A fresh address under the repository's namespace for the client to write to."""
    services.catalog.get_branch(repository, branch)
    return {"physical_address": issue_address(services, repository)}


@router.put(BACKING)
def link_physical_address(
    repository: str,
    branch: str,
    path: ObjectPath,
    body: StagingMetadata,
    services: ServicesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Stage ``path`` pointing at content the client wrote to an issued address."""
    check_path(path)
    address = body.staging.physical_address or ""
    verify_address(services, repository, address)
    if if_none_match is not None and if_none_match.strip() != "*":
        raise InvalidValue("If-None-Match supports only '*'", field="If-None-Match")
    stored = services.block.stat(address)
    if stored.size != body.size_bytes:
        raise InvalidValue(
            f"size_bytes {body.size_bytes} differs from the stored {stored.size}",
            field="size_bytes",
        )
    entry = Entry(
        path=path,
        physical_address=address,
        checksum=body.checksum.strip('"'),
        size_bytes=body.size_bytes,
        mtime=body.mtime or int(time.time()),
        content_type=body.content_type or "application/octet-stream",
        metadata=dict(body.user_metadata or {}),
        address_type="full",
    )
    staged = services.catalog.stage_entry(
        repository, branch, entry, if_absent=if_none_match is not None, force=body.force
    )
    return convert.object_stats(staged)
