"""Bucket operations: ListBuckets, HeadBucket, GetBucketLocation, ListObjects v1 and v2.

A bucket is a repository and the first key segment is a ref, so a listing whose prefix
has no ``/`` yet lists refs (branches) as common prefixes, as lakeFS does; below a ref
it is the catalog's listing with every key prefixed by ``<ref>/``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.responses import Response

from lakever_server.catalog.models import Branch, CommonPrefix, Entry, Page, Repository
from lakever_server.gateway.context import S3Request
from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.xml import Node, iso8601, xml_response

MAX_KEYS = 1000
OWNER: list[Node] = [("ID", "lakever"), ("DisplayName", "lakever")]


async def list_buckets(request: S3Request) -> Response:
    buckets: list[Node] = []
    after = ""
    while True:
        page: Page[Repository] = await request.call(
            request.catalog.list_repositories, after=after, amount=1000
        )
        for repository in page.results:
            buckets.append(
                (
                    "Bucket",
                    [("Name", repository.id), ("CreationDate", iso8601(repository.creation_date))],
                )
            )
        if not page.has_more:
            break
        after = page.next_after
    return xml_response("ListAllMyBucketsResult", [("Owner", OWNER), ("Buckets", buckets)])


async def head_bucket(request: S3Request) -> Response:
    await request.call(request.catalog.get_repository, request.repository)
    return Response(status_code=200, headers={"x-amz-bucket-region": "us-east-1"})


async def get_bucket_location(request: S3Request) -> Response:
    await request.call(request.catalog.get_repository, request.repository)
    return xml_response("LocationConstraint", [])


@dataclass(frozen=True)
class _Listing:
    keys: list[tuple[str, Entry]]  # (full S3 key, entry)
    prefixes: list[str]
    truncated: bool
    next_after: str


def _max_keys(request: S3Request) -> int:
    value = request.query.get("max-keys", str(MAX_KEYS))
    if not value.isdigit():
        raise S3Error("InvalidArgument", "max-keys must be a non-negative integer")
    return min(int(value), MAX_KEYS)


async def _list_refs(request: S3Request, prefix: str, after: str, amount: int) -> _Listing:
    """Branches as common prefixes ``<branch>/``: the "folders" at the bucket's root."""
    page: Page[Branch] = await request.call(
        request.catalog.list_branches,
        request.repository,
        prefix=prefix,
        after=after.rstrip("/"),
        amount=amount,
    )
    prefixes = [f"{branch.id}/" for branch in page.results]
    return _Listing([], prefixes, page.has_more, prefixes[-1] if page.has_more else "")


async def _collect(
    request: S3Request, prefix: str, delimiter: str, after: str, amount: int
) -> _Listing:
    if amount == 0:
        return _Listing([], [], False, "")
    ref, slash, path_prefix = prefix.partition("/")
    if not slash:
        if delimiter == "/":
            return await _list_refs(request, prefix, after, amount)
        if not delimiter:
            return await request.call(_list_branches_contents, request, prefix, after, amount)
        raise S3Error("InvalidArgument", "the prefix must start with a ref: <ref>/<path>")
    ref_after = after[len(ref) + 1 :] if after.startswith(f"{ref}/") else ""
    if after and after > f"{ref}/" and not after.startswith(f"{ref}/"):
        return _Listing([], [], False, "")
    page: Page[Entry | CommonPrefix] = await request.call(
        request.catalog.list_entries,
        request.repository,
        ref,
        prefix=path_prefix,
        delimiter=delimiter,
        after=ref_after,
        amount=amount,
    )
    keys = [(f"{ref}/{item.path}", item) for item in page.results if isinstance(item, Entry)]
    prefixes = [f"{ref}/{item.path}" for item in page.results if isinstance(item, CommonPrefix)]
    next_after = f"{ref}/{page.next_after}" if page.has_more else ""
    return _Listing(keys, prefixes, page.has_more, next_after)


def _list_branches_contents(
    request: S3Request, branch_prefix: str, after: str, amount: int
) -> _Listing:
    """A recursive listing from the bucket's root: the keys of every branch whose name
    starts with ``branch_prefix``, branch by branch (keys sort as ``<branch>/<path>``)."""
    catalog = request.catalog
    after_branch, _, after_path = after.partition("/")
    keys: list[tuple[str, Entry]] = []
    branch_cursor = ""
    while True:
        branches: Page[Branch] = catalog.list_branches(
            request.repository, prefix=branch_prefix, after=branch_cursor, amount=100
        )
        for branch in branches.results:
            if branch.id < after_branch:
                continue
            cursor = after_path if branch.id == after_branch else ""
            while True:
                page: Page[Entry | CommonPrefix] = catalog.list_entries(
                    request.repository, branch.id, after=cursor, amount=amount - len(keys)
                )
                entries = [e for e in page.results if isinstance(e, Entry)]
                keys += [(f"{branch.id}/{e.path}", e) for e in entries]
                if len(keys) >= amount:
                    return _Listing(keys, [], True, keys[-1][0])
                if not page.has_more:
                    break
                cursor = page.next_after
        if not branches.has_more:
            return _Listing(keys, [], False, "")
        branch_cursor = branches.next_after


def _encoder(request: S3Request) -> Callable[[str], str]:
    encoding = request.query.get("encoding-type")
    if encoding is None:
        return lambda value: value
    if encoding != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
    return lambda value: quote(value, safe="/")


def _contents(listing: _Listing, encode: Callable[[str], str]) -> list[Node]:
    nodes: list[Node] = []
    for key, entry in listing.keys:
        nodes.append(
            (
                "Contents",
                [
                    ("Key", encode(key)),
                    ("LastModified", iso8601(entry.mtime)),
                    ("ETag", f'"{entry.checksum}"'),
                    ("Size", entry.size_bytes),
                    ("StorageClass", "STANDARD"),
                ],
            )
        )
    for common in listing.prefixes:
        nodes.append(("CommonPrefixes", [("Prefix", encode(common))]))
    return nodes


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from None


async def list_objects(request: S3Request) -> Response:
    """ListObjects (v1, ``marker``) or ListObjectsV2 (``list-type=2``)."""
    v2 = request.query.get("list-type") == "2"
    prefix = request.query.get("prefix", "")
    delimiter = request.query.get("delimiter", "")
    amount = _max_keys(request)
    encode = _encoder(request)
    if v2:
        token = request.query.get("continuation-token")
        start_after = request.query.get("start-after", "")
        after = _decode_token(token) if token else start_after
    else:
        after = request.query.get("marker", "")
    listing = await _collect(request, prefix, delimiter, after, amount)
    common: list[Node] = [
        ("Name", request.repository),
        ("Prefix", encode(prefix)),
        ("Delimiter", encode(delimiter) if delimiter else None),
        ("MaxKeys", amount),
        ("EncodingType", request.query.get("encoding-type")),
        ("IsTruncated", listing.truncated),
    ]
    if v2:
        next_token = base64.urlsafe_b64encode(listing.next_after.encode()).decode()
        specific: list[Node] = [
            ("KeyCount", len(listing.keys) + len(listing.prefixes)),
            ("ContinuationToken", request.query.get("continuation-token")),
            ("StartAfter", encode(start_after) if start_after else None),
            ("NextContinuationToken", next_token if listing.truncated else None),
        ]
    else:
        specific = [
            ("Marker", encode(after)),
            ("NextMarker", encode(listing.next_after) if listing.truncated else None),
        ]
    return xml_response("ListBucketResult", common + specific + _contents(listing, encode))
