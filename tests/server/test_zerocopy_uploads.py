"""Large uploads over real HTTP read straight into the block store (``Content-Length``
bodies) store the same bytes with the same checksum as the same uploads streamed
(chunked bodies, which keep the streamed path), through WebHDFS and the S3 gateway."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lakever_server.storage.block.digests import PartDigests
from tests.server.gateway.s3_support import create_repository, s3_client
from tests.server.webhdfs.support import WebHdfs, access_token
from tests.support.server import RunningServer, lakever_server  # noqa: F401

SIZE = 40 * 1024 * 1024 + 12345


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


def streamed(data: bytes) -> Iterator[bytes]:
    """The body as a generator: sent chunked, so the server streams it as before."""
    for at in range(0, len(data), 1024 * 1024):
        yield data[at : at + 1024 * 1024]


def stat(server: RunningServer, repository: str, path: str) -> dict[str, object]:
    with server.http() as http:
        response = http.get(
            f"/repositories/{repository}/refs/main/objects/stat", params={"path": path}
        )
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result


def test_a_large_webhdfs_create_read_into_the_store_equals_the_streamed_one(
    lakever_server: RunningServer,  # noqa: F811
    payload: bytes,
) -> None:
    repo = create_repository(lakever_server, "hdfs")
    webhdfs = WebHdfs(lakever_server, access_token(lakever_server))
    webhdfs.http.timeout = httpx.Timeout(300)
    read_into = webhdfs.create(f"/{repo}/main/read.bin", payload)
    assert read_into.status_code == 201
    # Read past the parser: the connection is not kept.
    assert read_into.headers.get("connection") == "close"
    first = webhdfs.call("PUT", f"/{repo}/main/streamed.bin", "CREATE", overwrite="true")
    chunked = webhdfs.http.put(first.headers["Location"], content=streamed(payload))
    assert chunked.status_code == 201
    assert chunked.headers.get("connection") is None
    read, stream = (
        stat(lakever_server, repo, "read.bin"),
        stat(lakever_server, repo, "streamed.bin"),
    )
    assert read["checksum"] == stream["checksum"]
    reference = PartDigests()
    reference.update(payload)
    assert read["checksum"] == reference.hexdigest()
    assert read["size_bytes"] == SIZE
    assert webhdfs.open(f"/{repo}/main/read.bin").content == payload
    # An append read into the store: the stored bytes, then the new ones.
    tail = payload[: 3 * 1024 * 1024 + 7]
    assert webhdfs.append(f"/{repo}/main/read.bin", tail).status_code == 200
    assert webhdfs.open(f"/{repo}/main/read.bin").content == payload + tail


def test_a_large_s3_put_read_into_the_store_equals_the_streamed_one(
    lakever_server: RunningServer,  # noqa: F811
    payload: bytes,
) -> None:
    repo = create_repository(lakever_server, "objects")
    s3 = s3_client(lakever_server)
    etags = {}
    for key, body in (("main/read.bin", payload), ("main/streamed.bin", streamed(payload))):
        response = presigned_put(s3, "put_object", {"Bucket": repo, "Key": key}, body)
        etags[key] = response.headers["etag"]
        # Read past the parser: the connection is not kept.
        assert (response.headers.get("connection") == "close") == (key == "main/read.bin")
    assert etags["main/read.bin"] == etags["main/streamed.bin"]
    assert etags["main/read.bin"] == f'"{hashlib.md5(payload).hexdigest()}"'
    got = s3.get_object(Bucket=repo, Key="main/read.bin")
    assert got["Body"].read() == payload
    # A part uploaded the same way is stored and completed as a streamed one would be.
    upload = s3.create_multipart_upload(Bucket=repo, Key="main/parts.bin")["UploadId"]
    parts = []
    for number, body in ((1, payload[: 8 * 1024 * 1024]), (2, payload[8 * 1024 * 1024 :])):
        params = {"Bucket": repo, "Key": "main/parts.bin", "UploadId": upload, "PartNumber": number}
        response = presigned_put(s3, "upload_part", params, body)
        assert response.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
        parts.append({"PartNumber": number, "ETag": response.headers["etag"]})
    s3.complete_multipart_upload(
        Bucket=repo, Key="main/parts.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=repo, Key="main/parts.bin")["Body"].read() == payload


def presigned_put(
    s3: Any, operation: str, params: dict[str, object], body: bytes | Iterator[bytes]
) -> httpx.Response:
    """``body`` sent with httpx to a presigned URL of ``operation`` (``UNSIGNED-PAYLOAD``:
    nothing to check on the way), which must answer 200."""
    url = s3.generate_presigned_url(operation, Params=params, ExpiresIn=600)
    response = httpx.put(url, content=body, timeout=300)
    assert response.status_code == 200, response.text
    return response
