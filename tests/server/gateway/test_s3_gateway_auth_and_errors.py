"""Authentication and error documents of the S3 gateway on a real lakever server."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import botocore.crt.auth
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.server import RunningServer, lakever_server  # noqa: F401

from .botocore_capture import capture
from .botocore_capture import s3_client as capturing_client
from .s3_support import create_repository, s3_client


@pytest.fixture(scope="module")
def server(lakever_server: RunningServer) -> RunningServer:  # noqa: F811
    return lakever_server


@pytest.fixture(scope="module")
def repo(server: RunningServer) -> str:
    name = create_repository(server)
    s3_client(server).put_object(Bucket=name, Key="main/hello.txt", Body=b"hello")
    return name


def error_of(response: httpx.Response) -> tuple[int, str]:
    root = ET.fromstring(response.content)
    return response.status_code, root.findtext("Code") or ""


def refused(client: Any, repo: str) -> tuple[int, str]:
    with pytest.raises(ClientError) as failed:
        client.get_object(Bucket=repo, Key="main/hello.txt")
    response = failed.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_wrong_secret_is_signature_does_not_match(server: RunningServer, repo: str) -> None:
    client = s3_client(server, secret="wrong-secret-wrong-secret")
    assert refused(client, repo) == (403, "SignatureDoesNotMatch")


def test_an_unknown_access_key_is_invalid_access_key_id(server: RunningServer, repo: str) -> None:
    client = s3_client(server, access_key_id="AKIAJUNKNOWN00000000")
    assert refused(client, repo) == (403, "InvalidAccessKeyId")


def test_sigv2_with_a_wrong_secret_is_refused(server: RunningServer, repo: str) -> None:
    client = s3_client(server, secret="wrong-secret-wrong-secret", signature_version="s3")
    assert refused(client, repo) == (403, "SignatureDoesNotMatch")


def test_presigned_get_works_over_plain_http(server: RunningServer, repo: str) -> None:
    url = s3_client(server).generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/hello.txt"}, ExpiresIn=300
    )
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"hello"
    tampered = httpx.get(url.replace("hello.txt", "hellO.txt"))
    assert error_of(tampered) == (403, "SignatureDoesNotMatch")


def test_presigned_put_uploads(server: RunningServer, repo: str) -> None:
    url = s3_client(server).generate_presigned_url(
        "put_object", Params={"Bucket": repo, "Key": "main/presigned.bin"}, ExpiresIn=300
    )
    assert httpx.put(url, content=b"via presigned put").status_code == 200
    got = s3_client(server).get_object(Bucket=repo, Key="main/presigned.bin")
    assert got["Body"].read() == b"via presigned put"


def test_an_expired_presigned_url_is_refused(
    server: RunningServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    # With awscrt installed (the server needs it), botocore signs with its CRT signers.
    for signer in (botocore.auth, botocore.crt.auth):
        monkeypatch.setattr(signer, "get_current_datetime", lambda **_: two_hours_ago)
    url = s3_client(server).generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/hello.txt"}, ExpiresIn=3600
    )
    response = httpx.get(url)
    assert error_of(response) == (403, "AccessDenied")
    assert b"expired" in response.content


def test_sigv2_presigned_urls_work(server: RunningServer, repo: str) -> None:
    url = s3_client(server, signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/hello.txt"}, ExpiresIn=300
    )
    assert httpx.get(url).content == b"hello"


def test_anonymous_requests_never_reach_objects(server: RunningServer, repo: str) -> None:
    response = httpx.get(f"{server.url}/{repo}/main/hello.txt")
    assert response.status_code in (401, 403, 404)
    assert response.content != b"hello"


def test_error_documents_carry_s3_codes(server: RunningServer, repo: str) -> None:
    client = s3_client(server)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": repo, "Key": "main/missing.txt"}, ExpiresIn=300
    )
    assert error_of(httpx.get(url)) == (404, "NoSuchKey")
    url = client.generate_presigned_url(
        "list_objects_v2", Params={"Bucket": "no-such-repo", "Prefix": "main/"}, ExpiresIn=300
    )
    assert error_of(httpx.get(url)) == (404, "NoSuchBucket")
    url = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": repo, "Key": "main/hello.txt", "Range": "bytes=99-"},
        ExpiresIn=300,
    )
    assert error_of(httpx.get(url, headers={"Range": "bytes=99-"})) == (416, "InvalidRange")


def replay(server: RunningServer, operation: str, **params: Any) -> httpx.Response:
    """Send a request exactly as boto3 signs it for ``https://<server host>`` (where it
    streams aws-chunked bodies with trailing checksums) to the server over plain HTTP."""
    netloc = urlsplit(server.url).netloc
    client = capturing_client(
        f"https://{netloc}",
        secret=server.secret_access_key,
        access_key_id=server.access_key_id,
    )
    captured = capture(client, operation, **params)
    request = captured.signable
    headers = [(k, v) for k, v in request.headers if k not in ("transfer-encoding", "host")]
    url = f"{server.url}{request.raw_path}" + (f"?{request.raw_query}" if request.raw_query else "")
    return httpx.request(request.method, url, headers=headers, content=captured.body)


def test_streaming_uploads_with_trailing_checksums_are_stored(
    server: RunningServer, repo: str
) -> None:
    data = bytes(range(256)) * 8192
    response = replay(server, "put_object", Bucket=repo, Key="main/streamed.bin", Body=data)
    assert response.status_code == 200, response.text
    got = s3_client(server).get_object(Bucket=repo, Key="main/streamed.bin")
    assert got["Body"].read() == data


def test_a_streaming_upload_whose_checksum_differs_is_refused_and_not_stored(
    server: RunningServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.httpchecksum

    # botocore computes CRC32 with awscrt when it is installed (the server needs it).
    with monkeypatch.context() as patched:
        for checksum in (
            botocore.httpchecksum.Crc32Checksum,
            botocore.httpchecksum.CrtCrc32Checksum,
        ):
            patched.setattr(checksum, "digest", lambda self: bytes(4))
        response = replay(
            server, "put_object", Bucket=repo, Key="main/corrupt.bin", Body=b"x" * 1000
        )
    assert error_of(response) == (400, "BadDigest")
    with pytest.raises(ClientError):
        s3_client(server).head_object(Bucket=repo, Key="main/corrupt.bin")
