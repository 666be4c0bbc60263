"""Multipart uploads: create, upload part (and part copy), complete, abort, list parts.

Parts go to the block store's multipart upload at a fresh physical address of the
repository; completion composes them there and stages one entry on the branch, so the
object appears whole or not at all. The upload's record (target key, block upload id,
content type, user metadata) and its parts' ETags live in the metadata store, so any
server replica can continue an upload another one started.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.responses import Response

from lakever_server import errors
from lakever_server.catalog.models import Entry
from lakever_server.gateway.context import S3Request
from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.objects import ensure_branch, parse_copy_source, user_metadata
from lakever_server.gateway.xml import Node, child_text, iso8601, parse, xml_response
from lakever_server.storage.block.base import BodyReader, upload_part_content
from lakever_server.storage.kv.base import prefix_end

PARTITION = "s3-multipart"
MAX_PARTS = 10000


@dataclass(frozen=True)
class Upload:
    repository: str
    branch: str
    path: str
    address: str
    block_upload_id: str
    content_type: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    initiated: int = 0


@dataclass(frozen=True)
class PartRecord:
    number: int
    etag: str
    size: int
    last_modified: int


def _upload_key(upload_id: str) -> bytes:
    return f"u/{upload_id}".encode()


def _part_prefix(upload_id: str) -> bytes:
    return f"p/{upload_id}/".encode()


def _part_key(upload_id: str, number: int) -> bytes:
    return _part_prefix(upload_id) + f"{number:05d}".encode()


def _load(request: S3Request, upload_id: str) -> Upload:
    raw = request.services.kv.get(PARTITION, _upload_key(upload_id))
    if raw is None:
        raise errors.NotFound("The specified upload does not exist.", kind="upload", name=upload_id)
    upload = Upload(**json.loads(raw))
    if (upload.repository, upload.branch, upload.path) != (
        request.repository,
        request.ref,
        request.path,
    ):
        raise errors.NotFound("The specified upload does not exist.", kind="upload", name=upload_id)
    return upload


def _parts(request: S3Request, upload_id: str) -> Iterator[PartRecord]:
    prefix = _part_prefix(upload_id)
    for _, value in request.services.kv.scan(PARTITION, prefix, prefix_end(prefix)):
        yield PartRecord(**json.loads(value))


def _forget(request: S3Request, upload_id: str) -> None:
    kv = request.services.kv
    prefix = _part_prefix(upload_id)
    keys = [key for key, _ in kv.scan(PARTITION, prefix, prefix_end(prefix))]
    kv.write_batch(PARTITION, deletes=[*keys, _upload_key(upload_id)])


def _part_number(request: S3Request) -> int:
    value = request.query.get("partNumber", "")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PARTS:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000")
    return int(value)


async def create_upload(request: S3Request) -> Response:
    def create() -> str:
        ensure_branch(request.catalog, request.repository, request.ref)
        # Refused now rather than after every part was sent (read-only, protected).
        request.catalog.check_writable(request.repository, request.ref)
        address = request.catalog.new_physical_address(request.repository)
        upload = Upload(
            repository=request.repository,
            branch=request.ref,
            path=request.path,
            address=address,
            block_upload_id=request.services.block.create_multipart(address),
            content_type=request.header("content-type") or None,
            metadata=user_metadata(request),
            initiated=int(time.time()),
        )
        upload_id = uuid.uuid4().hex
        request.services.kv.set(
            PARTITION, _upload_key(upload_id), json.dumps(asdict(upload)).encode()
        )
        return upload_id

    if not request.path:
        raise errors.InvalidValue("the key must be <ref>/<path>", field="key")
    upload_id = await request.call(create)
    return xml_response(
        "InitiateMultipartUploadResult",
        [("Bucket", request.repository), ("Key", request.key), ("UploadId", upload_id)],
    )


def _record_part(request: S3Request, upload_id: str, number: int, etag: str, size: int) -> None:
    record = PartRecord(number, etag, size, int(time.time()))
    request.services.kv.set(
        PARTITION, _part_key(upload_id, number), json.dumps(asdict(record)).encode()
    )


async def upload_part(request: S3Request) -> Response:
    upload_id = request.query["uploadId"]
    number = _part_number(request)
    upload = await request.call(_load, request, upload_id)
    if request.header("x-amz-copy-source"):
        return await _upload_part_copy(request, upload, upload_id, number)

    def store(body: Iterator[bytes] | BodyReader) -> str:
        block = request.services.block
        result = upload_part_content(block, upload.address, upload.block_upload_id, number, body)
        _record_part(request, upload_id, number, result.md5, result.size)
        return str(result.md5)

    etag = await request.run_with_body_reader(store)
    return Response(status_code=200, headers={"ETag": f'"{etag}"', **request.checksum_headers})


def _source_range(request: S3Request, size: int) -> tuple[int, int]:
    header = request.header("x-amz-copy-source-range")
    if not header:
        return 0, size
    first, _, last = header.removeprefix("bytes=").partition("-")
    if not first.isdigit() or not last.isdigit() or int(first) > int(last) or int(last) >= size:
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be bytes=a-b")
    return int(first), int(last) + 1


async def _upload_part_copy(
    request: S3Request, upload: Upload, upload_id: str, number: int
) -> Response:
    repository, ref, path = parse_copy_source(request.header("x-amz-copy-source") or "")

    def copy() -> str:
        catalog = request.catalog
        source: Entry = catalog.get_entry(repository, ref, path)
        start, end = _source_range(request, source.size_bytes)
        stream = catalog.open_entry(source, start=start, end=end)
        result = request.services.block.upload_part(
            upload.address, upload.block_upload_id, number, stream
        )
        _record_part(request, upload_id, number, result.md5, result.size)
        return str(result.md5)

    etag = await request.call(copy)
    result: list[Node] = [("ETag", f'"{etag}"'), ("LastModified", iso8601(time.time()))]
    return xml_response("CopyPartResult", result)


def _requested_parts(body: bytes) -> list[tuple[int, str]]:
    root = parse(body)
    parts: list[tuple[int, str]] = []
    for part in root.findall("Part"):
        number = child_text(part, "PartNumber")
        if not number.isdigit():
            raise S3Error("MalformedXML", "every Part needs a PartNumber")
        parts.append((int(number), child_text(part, "ETag").strip().strip('"')))
    if not parts:
        raise S3Error("MalformedXML", "CompleteMultipartUpload lists no parts")
    if [n for n, _ in parts] != sorted({n for n, _ in parts}):
        raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order.")
    return parts


async def complete_upload(request: S3Request) -> Response:
    upload_id = request.query["uploadId"]
    parts = _requested_parts(await request.small_body())

    def complete() -> Entry:
        upload = _load(request, upload_id)
        stored = {p.number: p.etag for p in _parts(request, upload_id)}
        for number, etag in parts:
            if stored.get(number) != etag:
                raise S3Error(
                    "InvalidPart",
                    f"Part {number} was not uploaded or its ETag does not match.",
                )
        result = request.services.block.complete_multipart(
            upload.address, upload.block_upload_id, parts
        )
        entry = Entry(
            path=upload.path,
            physical_address=upload.address,
            checksum=result.md5,
            size_bytes=result.size,
            mtime=int(time.time()),
            content_type=upload.content_type or "application/octet-stream",
            metadata=upload.metadata,
        )
        staged: Entry = request.catalog.stage_entry(upload.repository, upload.branch, entry)
        _forget(request, upload_id)
        return staged

    entry = await request.call(complete)
    return xml_response(
        "CompleteMultipartUploadResult",
        [
            ("Location", f"/{request.repository}/{request.key}"),
            ("Bucket", request.repository),
            ("Key", request.key),
            ("ETag", f'"{entry.checksum}"'),
        ],
    )


async def abort_upload(request: S3Request) -> Response:
    upload_id = request.query["uploadId"]

    def abort() -> None:
        upload = _load(request, upload_id)
        request.services.block.abort_multipart(upload.address, upload.block_upload_id)
        _forget(request, upload_id)

    await request.call(abort)
    return Response(status_code=204)


async def list_parts(request: S3Request) -> Response:
    upload_id = request.query["uploadId"]
    marker_text = request.query.get("part-number-marker", "0")
    max_text = request.query.get("max-parts", "1000")
    if not marker_text.isdigit() or not max_text.isdigit():
        raise S3Error("InvalidArgument", "part-number-marker and max-parts must be integers")
    marker, amount = int(marker_text), min(int(max_text), 1000)

    def collect() -> list[PartRecord]:
        _load(request, upload_id)
        return [p for p in _parts(request, upload_id) if p.number > marker][: amount + 1]

    records: list[Any] = await request.call(collect)
    truncated = len(records) > amount
    records = records[:amount]
    nodes: list[Node] = [
        ("Bucket", request.repository),
        ("Key", request.key),
        ("UploadId", upload_id),
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", records[-1].number if records else marker),
        ("MaxParts", amount),
        ("IsTruncated", truncated),
        ("StorageClass", "STANDARD"),
    ]
    for record in records:
        nodes.append(
            (
                "Part",
                [
                    ("PartNumber", record.number),
                    ("LastModified", iso8601(record.last_modified)),
                    ("ETag", f'"{record.etag}"'),
                    ("Size", record.size),
                ],
            )
        )
    return xml_response("ListPartsResult", nodes)
