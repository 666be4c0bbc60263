"""Object operations: GetObject, HeadObject, PutObject, CopyObject, DeleteObject(s).

Reads accept any ref (branch, tag, commit id, with modifiers); writes only branches, and
the catalog refuses protected ones. Content streams both ways in blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response

from lakever_server import errors
from lakever_server.catalog.models import Entry
from lakever_server.gateway.context import S3Request
from lakever_server.gateway.errors import S3Error, to_s3_error
from lakever_server.gateway.xml import Node, child_text, http_date, iso8601, parse, xml_response
from lakever_server.storage.block.base import BodyReader
from lakever_server.zerocopy.response import BlobResponse

META_PREFIX = "x-amz-meta-"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
_RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def user_metadata(request: S3Request) -> dict[str, str]:
    """``x-amz-meta-<name>`` headers as the entry's metadata ``{name: value}``."""
    return {
        name.removeprefix(META_PREFIX): value
        for name, value in request.signable.headers
        if name.startswith(META_PREFIX)
    }


def entry_headers(entry: Entry) -> dict[str, str]:
    headers = {
        "ETag": f'"{entry.checksum}"',
        "Last-Modified": http_date(entry.mtime),
        "Content-Type": entry.content_type,
        "Accept-Ranges": "bytes",
    }
    for name, value in entry.metadata.items():
        if value.isascii():
            headers[f"{META_PREFIX}{name}"] = value
    return headers


def ensure_branch(catalog: Any, repository: str, ref: str) -> None:
    """Writes go to branches only: a tag or commit id is ``AccessDenied``."""
    try:
        catalog.get_branch(repository, ref)
    except (errors.NotFound, errors.InvalidValue):  # tag names need not be branch names
        try:
            catalog.get_commit(repository, ref)
        except errors.NotFound as missing:
            if missing.kind == "repository":
                raise
            raise errors.NotFound(f"branch {ref} not found", kind="branch", name=ref) from None
        raise errors.Forbidden(f"{ref} is not a branch: only branches can be written") from None


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``[start, end)`` for a single ``bytes=`` range; ``None`` to serve the whole object."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            suffix = int(last)
            if suffix == 0:
                raise errors.RangeNotSatisfiable("empty suffix range", size=size)
            return max(size - suffix, 0), size
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    if start >= size or end <= start:
        raise errors.RangeNotSatisfiable("The requested range is not satisfiable", size=size)
    return start, end


def _etag_matches(header: str, checksum: str) -> bool:
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    return "*" in tags or checksum in tags


def _http_time(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def check_conditions(request: S3Request, entry: Entry) -> int | None:
    """The status a conditional GET/HEAD ends with (304, 412), or ``None`` to serve."""
    if_match = request.header("if-match")
    if if_match is not None and not _etag_matches(if_match, entry.checksum):
        return 412
    since = request.header("if-unmodified-since")
    moment = _http_time(since) if since and if_match is None else None
    if moment is not None and entry.mtime > moment:
        return 412
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        return 304 if _etag_matches(if_none_match, entry.checksum) else None
    modified = request.header("if-modified-since")
    moment = _http_time(modified) if modified else None
    if moment is not None and entry.mtime <= moment:
        return 304
    return None


async def get_object(request: S3Request, *, head: bool = False) -> Response:
    catalog = request.catalog
    if not request.path:
        raise errors.NotFound("The specified key does not exist.", kind="object")
    entry: Entry = await request.call(
        catalog.get_entry, request.repository, request.ref, request.path
    )
    headers = entry_headers(entry)
    status = check_conditions(request, entry)
    if status == 412:
        raise errors.PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold"
        )
    if status == 304:
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    for parameter, header in _RESPONSE_OVERRIDES.items():
        if parameter in request.query:
            headers[header] = request.query[parameter]
    span = None
    range_header = request.header("range")
    if range_header:
        span = _parse_range(range_header, entry.size_bytes)
    start, end = span or (0, entry.size_bytes)
    headers["Content-Length"] = str(end - start)
    status_code = 200
    if span is not None:
        status_code = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size_bytes}"
    if head:
        return Response(status_code=status_code, headers=headers)
    if end == start:
        return Response(b"", status_code=status_code, headers=headers)
    stream: Iterator[bytes] = await request.call(catalog.open_entry, entry, start=start, end=end)
    return BlobResponse(stream, status_code=status_code, headers=headers)


async def put_object(request: S3Request) -> Response:
    if request.header("x-amz-copy-source"):
        return await copy_object(request)
    catalog = request.catalog
    await request.call(ensure_branch, catalog, request.repository, request.ref)
    if not request.path:
        # "<branch>/": a directory marker for the branch itself (pyarrow's create_dir
        # writes one per level). The branch is that directory already: nothing to store.
        await request.small_body(limit=0)
        return Response(status_code=200, headers={"ETag": f'"{EMPTY_MD5}"'})
    if_none_match = request.header("if-none-match")
    if_match = request.header("if-match")

    def write(body: Iterator[bytes] | BodyReader) -> Entry:
        entry: Entry = catalog.write_object(
            request.repository,
            request.ref,
            request.path,
            body,
            content_type=request.header("content-type") or None,
            metadata=user_metadata(request),
            if_absent=if_none_match is not None and if_none_match.strip() == "*",
            if_match=if_match.strip().strip('"') if if_match else None,
        )
        return entry

    entry = await request.run_with_body_reader(write)
    headers = {"ETag": f'"{entry.checksum}"', **request.checksum_headers}
    if request.checksum_headers:
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    return Response(status_code=200, headers=headers)


def parse_copy_source(value: str) -> tuple[str, str, str]:
    """``/<repo>/<ref>/<path>`` (URL-encoded, optional ``?versionId=``) as its parts."""
    source = unquote(value.partition("?")[0]).lstrip("/")
    repository, _, key = source.partition("/")
    ref, _, path = key.partition("/")
    if not repository or not ref or not path:
        raise S3Error("InvalidArgument", "x-amz-copy-source must be /<repo>/<ref>/<path>")
    return repository, ref, path


def _copy(request: S3Request, source: tuple[str, str, str]) -> Entry:
    catalog = request.catalog
    repository, ref, path = source
    ensure_branch(catalog, request.repository, request.ref)
    replace = (request.header("x-amz-metadata-directive") or "COPY").upper() == "REPLACE"
    if repository == request.repository:
        entry: Entry = catalog.copy_object(repository, ref, path, request.ref, request.path)
        if replace:
            catalog.update_object_metadata(
                request.repository, request.ref, request.path, user_metadata(request)
            )
            entry = catalog.get_entry(request.repository, request.ref, request.path)
        return entry
    # Repositories have separate storage namespaces: across them the bytes must move.
    source_entry, stream = catalog.read_object(repository, ref, path)
    copied: Entry = catalog.write_object(
        request.repository,
        request.ref,
        request.path,
        stream,
        content_type=request.header("content-type") if replace else source_entry.content_type,
        metadata=user_metadata(request) if replace else dict(source_entry.metadata),
    )
    return copied


async def copy_object(request: S3Request) -> Response:
    source = parse_copy_source(request.header("x-amz-copy-source") or "")
    entry = await request.call(_copy, request, source)
    result: list[Node] = [("ETag", f'"{entry.checksum}"'), ("LastModified", iso8601(entry.mtime))]
    return xml_response("CopyObjectResult", result)


async def delete_object(request: S3Request) -> Response:
    catalog = request.catalog
    await request.call(ensure_branch, catalog, request.repository, request.ref)
    # S3 deletes are idempotent: deleting a missing key succeeds.
    with contextlib.suppress(errors.NotFound):
        await request.call(catalog.delete_object, request.repository, request.ref, request.path)
    return Response(status_code=204)


def _delete_many(request: S3Request, keys: list[str]) -> dict[str, S3Error | None]:
    """Delete keys grouped by ref; per key ``None`` (deleted) or its error."""
    outcome: dict[str, S3Error | None] = {}
    by_ref: dict[str, list[str]] = {}
    for key in keys:
        ref, _, path = key.partition("/")
        by_ref.setdefault(ref, []).append(path)
    for ref, paths in by_ref.items():
        try:
            ensure_branch(request.catalog, request.repository, ref)
            failed = request.catalog.delete_objects(request.repository, ref, paths)
        except errors.LakeverError as exc:
            body = to_s3_error(exc)
            for path in paths:
                outcome[f"{ref}/{path}"] = S3Error(body.code, body.message, body.status)
            continue
        for path in paths:
            message = failed.get(path)
            # A key that was not there counts as deleted, as in S3.
            if message is None or "not found" in message.lower():
                outcome[f"{ref}/{path}"] = None
            else:
                outcome[f"{ref}/{path}"] = S3Error("InternalError", message, 500)
    return outcome


async def delete_objects(request: S3Request) -> Response:
    root = parse(await request.small_body())
    quiet = child_text(root, "Quiet").lower() == "true"
    keys = [child_text(item, "Key") for item in root.findall("Object")]
    if not keys or len(keys) > 1000:
        raise S3Error("MalformedXML", "Delete must list 1 to 1000 objects")
    outcome = await request.call(_delete_many, request, keys)
    results: list[Node] = []
    for key, error in outcome.items():
        if error is None:
            if not quiet:
                results.append(("Deleted", [("Key", key)]))
        else:
            results.append(
                ("Error", [("Key", key), ("Code", error.code), ("Message", error.message)])
            )
    return xml_response("DeleteResult", results)
