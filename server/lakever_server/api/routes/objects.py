"""Objects: upload, download (ranges, ETags), head, stat, list, delete, copy, metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from lakever_server.api import convert, object_reads
from lakever_server.api.deps import (
    After,
    Amount,
    CatalogDep,
    Prefix,
    ServicesDep,
    check_path,
    check_prefix,
    current_user,
    page_size,
)
from lakever_server.api.schemas import ObjectCopyCreation, PathList, UpdateObjectUserMetadata
from lakever_server.api.streaming import MultipartField, feed_thread, prepend
from lakever_server.catalog.models import Entry
from lakever_server.errors import InvalidValue
from lakever_server.storage.block.base import Content
from lakever_server.zerocopy.receive import open_body_reader, read_in_thread

router = APIRouter(tags=["objects"], dependencies=[Depends(current_user)])
REF_OBJECTS = "/repositories/{repository}/refs/{ref}/objects"
BRANCH_OBJECTS = "/repositories/{repository}/branches/{branch}/objects"
META_HEADER = "x-lakefs-meta-"

ObjectPath = Annotated[str, Query(description="the object's path (key)")]
Presign = Annotated[bool | None, Query(description="ignored: no presigned URLs here")]
UserMetadata = Annotated[bool, Query(description="include user metadata")]


def _user_metadata(request: Request) -> dict[str, str]:
    """``X-Lakefs-Meta-<key>: v`` headers as ``{"<key>": "v"}``.

    Header names arrive lower-cased (HTTP names are case-insensitive), and lakeFS
    clients lower-case the keys they send, so keys are stored lower-case.
    """
    return {
        name[len(META_HEADER) :]: value
        for name, value in request.headers.items()
        if name.startswith(META_HEADER) and len(name) > len(META_HEADER)
    }


@router.get(REF_OBJECTS, response_class=StreamingResponse)
async def get_object(
    repository: str,
    ref: str,
    path: ObjectPath,
    services: ServicesDep,
    range: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    presign: Presign = None,
) -> Response:
    """Stream the content; ``Range`` gives 206 (416 outside), ``If-None-Match`` 304."""
    return await object_reads.run_read(
        services,
        object_reads.get_response,
        services.catalog,
        repository,
        ref,
        path,
        range,
        if_none_match,
    )


@router.head(REF_OBJECTS)
async def head_object(
    repository: str,
    ref: str,
    path: ObjectPath,
    services: ServicesDep,
    range: Annotated[str | None, Header()] = None,
) -> Response:
    return await object_reads.run_read(
        services, object_reads.head_response, services.catalog, repository, ref, path, range
    )


@router.get(REF_OBJECTS + "/stat")
async def stat_object(
    repository: str,
    ref: str,
    path: ObjectPath,
    services: ServicesDep,
    user_metadata: UserMetadata = True,
    presign: Presign = None,
) -> dict[str, Any]:
    return await object_reads.run_read(
        services,
        object_reads.stat_body,
        services.catalog,
        repository,
        ref,
        path,
        user_metadata=user_metadata,
    )


@router.get(REF_OBJECTS + "/underlyingProperties")
def get_underlying_properties(
    repository: str, ref: str, path: ObjectPath, catalog: CatalogDep
) -> dict[str, Any]:
    catalog.get_entry(repository, ref, check_path(path))
    return {"storage_class": None}


@router.get(REF_OBJECTS + "/ls")
def list_objects(
    repository: str,
    ref: str,
    catalog: CatalogDep,
    prefix: Prefix = "",
    delimiter: str = "",
    after: After = "",
    amount: Amount = 1000,
    user_metadata: UserMetadata = True,
    presign: Presign = None,
) -> dict[str, Any]:
    page = catalog.list_entries(
        repository,
        ref,
        prefix=check_prefix(prefix),
        delimiter=delimiter,
        after=after,
        amount=page_size(amount),
    )
    return convert.paginated(
        page, lambda item: convert.listing_item(item, user_metadata=user_metadata)
    )


def _preconditions(if_none_match: str | None, if_match: str | None) -> tuple[bool, str | None]:
    if if_none_match is not None and if_none_match.strip() != "*":
        raise InvalidValue("If-None-Match supports only '*'", field="If-None-Match")
    expected = if_match.strip().removeprefix("W/").strip('"') if if_match else None
    return if_none_match is not None, expected


@router.post(BRANCH_OBJECTS, status_code=201)
async def upload_object(
    request: Request,
    repository: str,
    branch: str,
    path: ObjectPath,
    services: ServicesDep,
    if_none_match: Annotated[str | None, Header()] = None,
    if_match: Annotated[str | None, Header()] = None,
    storage_class: Annotated[str | None, Query(alias="storageClass")] = None,
    force: bool = False,
) -> dict[str, Any]:
    """Upload raw bytes (any content type) or a multipart ``content`` field, streamed."""
    check_path(path)
    if_absent, expected = _preconditions(if_none_match, if_match)
    content_type = request.headers.get("content-type") or "application/octet-stream"
    body: AsyncIterator[bytes] = request.stream()
    part: MultipartField | None = None
    if content_type.startswith("multipart/form-data"):
        part = MultipartField.from_header(body, content_type, "content")
        body = part.chunks()
        first = b""
        async for first in body:  # noqa: B007 (read up to the part's headers)
            break
        body = prepend(first, body)
        content_type = part.content_type or "application/octet-stream"
    metadata = _user_metadata(request)
    limit = services.settings.limits.max_object_bytes
    # A raw body the server can hand over as a reader is read straight into the block
    # store's buffers (``zerocopy.receive``); a form, or any body otherwise, streams.
    reader = None if part is not None else open_body_reader(request.scope, max_bytes=limit)

    def write(chunks: Content) -> Entry:
        return services.catalog.write_object(
            repository,
            branch,
            path,
            chunks,
            content_type=content_type,
            metadata=metadata,
            if_absent=if_absent,
            if_match=expected,
            force=force,
        )

    if reader is not None:
        entry = await read_in_thread(reader, write)
    else:
        entry = await feed_thread(write, body, limit)
    return convert.object_stats(entry)


@router.delete(BRANCH_OBJECTS, status_code=204)
def delete_object(
    repository: str, branch: str, path: ObjectPath, catalog: CatalogDep, force: bool = False
) -> Response:
    catalog.delete_object(repository, branch, check_path(path), force=force)
    return Response(status_code=204)


@router.post(BRANCH_OBJECTS + "/delete")
def delete_objects(
    repository: str,
    branch: str,
    body: PathList,
    services: ServicesDep,
    force: bool = False,
) -> dict[str, Any]:
    """Delete up to ``limits.max_bulk_delete_paths`` paths; failures listed per path."""
    limit = services.settings.limits.max_bulk_delete_paths
    if len(body.paths) > limit:
        raise InvalidValue(f"at most {limit} paths per request", field="paths")
    for path in body.paths:
        check_path(path, "paths")
    failed = services.catalog.delete_objects(repository, branch, body.paths, force=force)
    return {
        "errors": [
            {"path": path, "status_code": 400, "message": message}
            for path, message in failed.items()
        ]
    }


@router.post(BRANCH_OBJECTS + "/copy", status_code=201)
def copy_object(
    repository: str,
    branch: str,
    dest_path: Annotated[str, Query(description="destination path")],
    body: ObjectCopyCreation,
    catalog: CatalogDep,
) -> dict[str, Any]:
    """Copy within the repository (metadata only: both point at the same content)."""
    entry = catalog.copy_object(
        repository,
        body.src_ref or branch,
        check_path(body.src_path, "src_path"),
        branch,
        check_path(dest_path, "dest_path"),
        force=body.force,
    )
    return convert.object_stats(entry)


@router.put(BRANCH_OBJECTS + "/stat/user_metadata", status_code=201)
def update_object_user_metadata(
    repository: str,
    branch: str,
    path: ObjectPath,
    body: UpdateObjectUserMetadata,
    catalog: CatalogDep,
) -> Response:
    catalog.update_object_metadata(repository, branch, check_path(path), body.set)
    return Response(status_code=201)
