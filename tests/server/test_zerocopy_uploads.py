"""Large uploads over real HTTP read straight into the block store (``Content-Length``
bodies) store the same bytes with the same checksum as the same uploads streamed
(chunked bodies, which keep the streamed path), through WebHDFS and the S3 gateway."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import boto3
import httpx
import pytest
from botocore.config import Config

from lakever_server.storage.block.digests import PartDigests
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
    with lakever_server.http() as http:
        http.post("/repositories", json={"name": "hdfs", "storage_namespace": "local://hdfs"})
    webhdfs = WebHdfs(lakever_server, access_token(lakever_server))
    webhdfs.http.timeout = httpx.Timeout(300)
    read_into = webhdfs.create("/hdfs/main/read.bin", payload)
    assert read_into.status_code == 201
    # Read past the parser: the connection is not kept.
    assert read_into.headers.get("connection") == "close"
    first = webhdfs.call("PUT", "/hdfs/main/streamed.bin", "CREATE", overwrite="true")
    chunked = webhdfs.http.put(first.headers["Location"], content=streamed(payload))
    assert chunked.status_code == 201
    assert chunked.headers.get("connection") is None
    read, stream = (
        stat(lakever_server, "hdfs", "read.bin"),
        stat(lakever_server, "hdfs", "streamed.bin"),
    )
    assert read["checksum"] == stream["checksum"]
    reference = PartDigests()
    reference.update(payload)
    assert read["checksum"] == reference.hexdigest()
    assert read["size_bytes"] == SIZE
    assert webhdfs.open("/hdfs/main/read.bin").content == payload
    # An append read into the store: the stored bytes, then the new ones.
    tail = payload[: 3 * 1024 * 1024 + 7]
    assert webhdfs.append("/hdfs/main/read.bin", tail).status_code == 200
    assert webhdfs.open("/hdfs/main/read.bin").content == payload + tail


def test_a_large_s3_put_read_into_the_store_equals_the_streamed_one(
    lakever_server: RunningServer,  # noqa: F811
    payload: bytes,
) -> None:
    with lakever_server.http() as http:
        http.post("/repositories", json={"name": "objects", "storage_namespace": "local://objects"})
    s3 = boto3.client(
        "s3",
        endpoint_url=lakever_server.url,
        aws_access_key_id=lakever_server.access_key_id,
        aws_secret_access_key=lakever_server.secret_access_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    etags = {}
    for key, body in (("main/read.bin", payload), ("main/streamed.bin", streamed(payload))):
        # Presigned: UNSIGNED-PAYLOAD, nothing to check on the way.
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": "objects", "Key": key}, ExpiresIn=600
        )
        response = httpx.put(url, content=body, timeout=300)
        assert response.status_code == 200, response.text
        etags[key] = response.headers["etag"]
        # Read past the parser: the connection is not kept.
        assert (response.headers.get("connection") == "close") == (key == "main/read.bin")
    assert etags["main/read.bin"] == etags["main/streamed.bin"]
    assert etags["main/read.bin"] == f'"{hashlib.md5(payload).hexdigest()}"'
    got = s3.get_object(Bucket="objects", Key="main/read.bin")
    assert got["Body"].read() == payload
    # A part uploaded the same way is stored and completed as a streamed one would be.
    upload = s3.create_multipart_upload(Bucket="objects", Key="main/parts.bin")["UploadId"]
    parts = []
    for number, body in ((1, payload[: 8 * 1024 * 1024]), (2, payload[8 * 1024 * 1024 :])):
        url = s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": "objects",
                "Key": "main/parts.bin",
                "UploadId": upload,
                "PartNumber": number,
            },
            ExpiresIn=600,
        )
        response = httpx.put(url, content=body, timeout=300)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
        parts.append({"PartNumber": number, "ETag": response.headers["etag"]})
    s3.complete_multipart_upload(
        Bucket="objects", Key="main/parts.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket="objects", Key="main/parts.bin")["Body"].read() == payload
