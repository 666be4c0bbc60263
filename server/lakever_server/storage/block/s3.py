"""Blobs in any S3-compatible object store (AWS S3, MinIO, Ceph, ...): ``s3://bucket/key``.

Uploads never hold a whole object: content is cut into 8 MiB parts as it streams in; an
object that ends within the first part goes up as one ``PutObject``, a larger one as a
multipart upload (aborted if the stream fails, so nothing half-written ever appears).
Downloads stream ``GetObject`` bodies chunk by chunk, ranged when asked.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block.base import CHUNK_SIZE, BlockStat, PutResult, parse_address

PART_SIZE = 8 * 1024 * 1024
"""Bytes per uploaded part: above S3's 5 MiB minimum, small enough to buffer. With S3's
10,000 parts, one ``put`` stores up to 80 GiB (larger objects go through the gateway's
client-driven multipart uploads)."""

_SPOOL_IN_MEMORY = PART_SIZE  # a multipart part beyond this spills to a temporary file
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_NO_UPLOAD = {"NoSuchUpload"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _parts_of(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a stream of chunks into pieces of exactly ``size`` (the last may be short)."""
    pending, held = [], 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        while held >= size:
            joined = b"".join(pending)
            yield joined[:size]
            rest = joined[size:]
            pending, held = ([rest] if rest else []), len(rest)
    if held:
        yield b"".join(pending)


class S3BlockStore:
    """Immutable blobs in S3 buckets; serves the ``s3`` scheme.

    Credentials come from the arguments, or from the standard AWS chain (environment,
    shared config, instance role) when not given. They are never stored on this object.
    """

    schemes: tuple[str, ...] = ("s3",)

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        force_path_style: bool = True,
        *,
        list_page_size: int = 1000,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._list_page_size = list_page_size
        config = Config(
            s3={"addressing_style": "path" if force_path_style else "auto"},
            # Other S3-compatible services reject the newer default checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
            retries={"mode": "standard"},
        )
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3BlockStore(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    # -- addresses -------------------------------------------------------------------

    def _bucket_key(self, address: str, *, key_required: bool = True) -> tuple[str, str]:
        scheme, rest = parse_address(address)
        if scheme not in self.schemes:
            raise InvalidValue(f"not an s3 address: {address!r}", field="address")
        bucket, _, key = rest.partition("/")
        if not bucket or (key_required and not key):
            raise InvalidValue("expected s3://bucket/key", field="address")
        return bucket, key

    # -- blobs -----------------------------------------------------------------------

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        bucket, key = self._bucket_key(address)
        parts = _parts_of(chunks, PART_SIZE)
        digest, size = hashlib.md5(), 0
        first = next(parts, b"")
        second = next(parts, None)
        digest.update(first)
        if second is None:  # small enough for a single request
            self._client.put_object(Bucket=bucket, Key=key, Body=first)
            return PutResult(size=len(first), md5=digest.hexdigest())
        upload_id = self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            done = []
            for number, body in enumerate(_chain(first, second, parts), start=1):
                if number > 1:
                    digest.update(body)
                size += len(body)
                reply = self._client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
                done.append({"PartNumber": number, "ETag": reply["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            with contextlib.suppress(ClientError):  # keep the original error
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        return PutResult(size=size, md5=digest.hexdigest())

    def get(self, address: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        bucket, key = self._bucket_key(address)
        if end is not None and end <= start:
            self.stat(address)  # still NotFound for a missing blob
            return iter(())
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self._client.get_object(**request)["Body"]
        except ClientError as error:
            if _code(error) in _MISSING:
                raise NotFound(f"no blob at {address}", kind="blob", name=address) from None
            if _code(error) == "InvalidRange":  # starts at or past the end: nothing to read
                return iter(())
            raise
        return _stream(body)

    def stat(self, address: str) -> BlockStat:
        bucket, key = self._bucket_key(address)
        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) in _MISSING:
                raise NotFound(f"no blob at {address}", kind="blob", name=address) from None
            raise
        return BlockStat(
            address=address,
            size=int(head["ContentLength"]),
            mtime=head["LastModified"].timestamp(),
        )

    def exists(self, address: str) -> bool:
        try:
            self.stat(address)
        except NotFound:
            return False
        return True

    def delete(self, address: str) -> None:
        bucket, key = self._bucket_key(address)
        self._client.delete_object(Bucket=bucket, Key=key)

    def list_prefix(self, prefix: str) -> Iterator[BlockStat]:
        bucket, key_prefix = self._bucket_key(prefix, key_required=False)
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=bucket, Prefix=key_prefix, PaginationConfig={"PageSize": self._list_page_size}
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield BlockStat(
                    address=f"s3://{bucket}/{item['Key']}",
                    size=int(item["Size"]),
                    mtime=item["LastModified"].timestamp(),
                )

    # -- multipart -------------------------------------------------------------------

    def create_multipart(self, address: str) -> str:
        bucket, key = self._bucket_key(address)
        return str(self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])

    def upload_part(
        self, address: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> PutResult:
        bucket, key = self._bucket_key(address)
        if not 1 <= part_number <= 10_000:
            raise InvalidValue("part number must be 1-10000", field="part_number")
        digest, size = hashlib.md5(), 0
        # A part's length must be known up front; spool it (to disk past 8 MiB) once.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            for chunk in chunks:
                spool.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            spool.seek(0)
            try:
                self._client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part_number,
                    Body=spool,
                    ContentLength=size,
                )
            except ClientError as error:
                self._raise_if_no_upload(error, bucket, key, upload_id)
                raise
        return PutResult(size=size, md5=digest.hexdigest())

    def complete_multipart(
        self, address: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        bucket, key = self._bucket_key(address)
        listed = [{"PartNumber": n, "ETag": f'"{etag.strip(chr(34))}"'} for n, etag in parts]
        try:
            reply = self._client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        except ClientError as error:
            self._raise_if_no_upload(error, bucket, key, upload_id)
            if _code(error) in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                raise InvalidValue(
                    f"parts cannot be composed: {_code(error)}", field="parts"
                ) from None
            raise
        size = self.stat(address).size
        return PutResult(size=size, md5=str(reply["ETag"]).strip('"'))

    def _raise_if_no_upload(
        self, error: ClientError, bucket: str, key: str, upload_id: str
    ) -> None:
        """Turn a failure on an unknown (e.g. aborted) upload into ``NotFound``.

        Some S3-compatible servers answer such requests with a 500 rather than
        ``NoSuchUpload``, so a server error is checked by listing the upload's parts.
        """
        missing = _code(error) in _NO_UPLOAD
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if not missing and status >= 500:
            try:
                self._client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=1)
            except ClientError as probe:
                missing = _code(probe) in _NO_UPLOAD
        if missing:
            raise NotFound("no such upload", kind="upload", name=upload_id) from None

    def abort_multipart(self, address: str, upload_id: str) -> None:
        bucket, key = self._bucket_key(address)
        try:
            self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) not in _NO_UPLOAD:
                raise


def _chain(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    yield from rest


def _stream(body: Any) -> Iterator[bytes]:
    """Yield a ``StreamingBody`` in chunks, releasing the connection however it ends."""
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()
