"""Dispatch an S3 request to its operation, and map every failure to S3 XML once.

S3 names operations by method, addressing level (service, bucket, object) and query
sub-resources (``?uploads``, ``?uploadId=``, ``?delete``, ``?list-type=2``), not by
path, so one catch-all route authenticates and then dispatches here.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from lakever_server.gateway import listing, multipart, objects
from lakever_server.gateway.authentication import authenticate
from lakever_server.gateway.context import S3Request, drain, signable_request
from lakever_server.gateway.errors import S3Error, error_xml, to_s3_error

log = logging.getLogger(__name__)
Operation = Callable[[S3Request], Awaitable[Response]]


def _not_implemented(name: str) -> Operation:
    async def refuse(request: S3Request) -> Response:
        raise S3Error("NotImplemented", f"{name} is not supported by the lakever gateway", 501)

    return refuse


def _bucket_operation(method: str, query: dict[str, str]) -> Operation:
    if method == "GET":
        if "location" in query:
            return listing.get_bucket_location
        if any(k in query for k in ("versioning", "acl", "policy", "uploads", "versions")):
            return _not_implemented("this bucket sub-resource")
        return listing.list_objects
    if method == "HEAD":
        return listing.head_bucket
    if method == "POST" and "delete" in query:
        return objects.delete_objects
    if method == "PUT":
        return _not_implemented("CreateBucket (create repositories with the lakeFS API)")
    if method == "DELETE":
        return _not_implemented("DeleteBucket")
    return _not_implemented(f"{method} on a bucket")


def _object_operation(method: str, query: dict[str, str]) -> Operation:
    if "uploadId" in query:
        by_method: dict[str, Operation] = {
            "PUT": multipart.upload_part,
            "POST": multipart.complete_upload,
            "DELETE": multipart.abort_upload,
            "GET": multipart.list_parts,
        }
        return by_method.get(method, _not_implemented(f"{method} on an upload"))
    if method == "POST" and "uploads" in query:
        return multipart.create_upload
    if any(k in query for k in ("tagging", "acl", "retention", "legal-hold", "attributes")):
        return _not_implemented("this object sub-resource")
    if method == "GET":
        return objects.get_object
    if method == "HEAD":
        return _head_object
    if method == "PUT":
        return objects.put_object
    if method == "DELETE":
        return objects.delete_object
    return _not_implemented(f"{method} on an object")


async def _head_object(request: S3Request) -> Response:
    return await objects.get_object(request, head=True)


async def _list_buckets(request: S3Request) -> Response:
    return await listing.list_buckets(request)


def choose_operation(method: str, repository: str, key: str, query: dict[str, str]) -> Operation:
    if not repository:
        if method == "GET":
            return _list_buckets
        return _not_implemented(f"{method} on the service")
    if not key:
        return _bucket_operation(method, query)
    return _object_operation(method, query)


def _error_response(exc: Exception, method: str, resource: str, is_key: bool) -> Response:
    body = to_s3_error(exc, is_key=is_key)
    if body.status >= 500:
        log.exception("S3 gateway request failed: %s %s", method, resource, exc_info=exc)
    request_id = uuid.uuid4().hex[:16].upper()
    headers = {"x-amz-request-id": request_id}
    if body.code == "InvalidRange":
        size = getattr(exc, "size", None)
        if size is not None:
            headers["Content-Range"] = f"bytes */{size}"
    if method == "HEAD":
        # HEAD responses have no body; clients read the status (and this header).
        headers["x-amz-error-code"] = body.code
        return Response(status_code=body.status, headers=headers)
    content = error_xml(body, resource, request_id)
    return Response(content, status_code=body.status, media_type="application/xml", headers=headers)


async def handle(request: Request, services: Any) -> Response:
    """Authenticate, dispatch and run one S3 request."""
    signable = signable_request(request)
    path = request.scope["path"]
    repository, _, key = path.lstrip("/").partition("/")
    is_key = bool(key)
    try:
        auth = await run_in_threadpool(authenticate, signable, services.auth)
        query = dict(signable.query_pairs())
        s3_request = S3Request(request, services, signable, auth, repository, key, query)
        operation = choose_operation(request.method, repository, key, query)
        return await operation(s3_request)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await drain(request.stream())
        return _error_response(exc, request.method, path, is_key)
