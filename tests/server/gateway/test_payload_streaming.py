"""Request bodies: aws-chunked decoding with chunk signatures and trailing checksums."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import UTC, datetime

import pytest

from lakever_server.gateway import sigv4
from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.payload import verified_body
from lakever_server.gateway.sigv4 import SignableRequest

from .botocore_capture import ACCESS_KEY_ID, SECRET, capture, chunks, s3_client


def lookup(access_key_id: str) -> str | None:
    return SECRET if access_key_id == ACCESS_KEY_ID else None


def body_of(raw: bytes, request: SignableRequest, auth: sigv4.Authenticated) -> bytes:
    return b"".join(verified_body(chunks(raw), auth, request))


def refusal(raw: bytes, request: SignableRequest, auth: sigv4.Authenticated) -> str:
    with pytest.raises(S3Error) as refused:
        body_of(raw, request, auth)
    return refused.value.code


def test_boto3_default_upload_over_tls_streams_with_a_verified_crc32_trailer() -> None:
    data = bytes(range(256)) * 5000
    captured = capture(
        s3_client("https://127.0.0.1:9443"),
        "put_object",
        Bucket="repo",
        Key="main/t.bin",
        Body=data,
    )
    request = captured.signable
    assert request.header("x-amz-content-sha256") == sigv4.STREAMING_UNSIGNED_TRAILER
    assert request.header("x-amz-trailer") == "x-amz-checksum-crc32"
    auth = sigv4.verify_header_auth(request, lookup)
    assert body_of(captured.body, request, auth) == data

    flipped = captured.body.replace(b"\x00\x01\x02", b"\x00\x01\x03", 1)
    assert refusal(flipped, request, auth) == "BadDigest"
    truncated = captured.body[: len(captured.body) // 2]
    assert refusal(truncated, request, auth) == "IncompleteBody"


def test_boto3_upload_over_plain_http_checks_the_signed_sha256_and_crc32_header() -> None:
    captured = capture(
        s3_client(), "put_object", Bucket="repo", Key="main/p.txt", Body=b"payload signed by sha256"
    )
    request = captured.signable
    auth = sigv4.verify_header_auth(request, lookup)
    assert len(auth.content_sha256) == 64
    assert body_of(captured.body, request, auth) == b"payload signed by sha256"
    assert refusal(b"payload signed by sha257", request, auth) == "XAmzContentSHA256Mismatch"


def test_content_md5_is_checked() -> None:
    body = b"abc"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    request = SignableRequest("PUT", "/r/main/k", "", [("content-md5", good)])
    auth = sigv4.Authenticated(ACCESS_KEY_ID, sigv4.UNSIGNED_PAYLOAD)
    assert body_of(body, request, auth) == body
    assert refusal(b"abd", request, auth) == "BadDigest"
    malformed = dataclasses.replace(request, headers=[("content-md5", "bm90LW1kNQ==")])
    assert refusal(body, malformed, auth) == "InvalidDigest"


def aws_example() -> tuple[SignableRequest, sigv4.Authenticated, bytes]:
    """AWS's documented multi-chunk PUT: 66560 bytes of 'a' in chunks of 64 KiB."""
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    request = SignableRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                "aws4_request,SignedHeaders=content-encoding;content-length;host;"
                "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                f"x-amz-storage-class,Signature={seed}",
            ),
            ("x-amz-content-sha256", sigv4.STREAMING_SIGNED),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ],
    )
    secrets = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    auth = sigv4.verify_header_auth(
        request, secrets.get, now=datetime(2013, 5, 24, 0, 1, tzinfo=UTC)
    )
    body = (
        b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        b"\r\n" + b"a" * 65536 + b"\r\n"
        b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        b"\r\n" + b"a" * 1024 + b"\r\n"
        b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        b"\r\n\r\n"
    )
    return request, auth, body


def test_signed_chunks_of_the_aws_example_verify_chunk_by_chunk() -> None:
    request, auth, body = aws_example()
    assert len(body) == 66824
    assert body_of(body, request, auth) == b"a" * 66560


def test_a_changed_byte_in_a_signed_chunk_is_refused() -> None:
    request, auth, body = aws_example()
    tampered = body[:1000] + b"b" + body[1001:]
    assert refusal(tampered, request, auth) == "SignatureDoesNotMatch"


def test_dropping_the_final_signed_chunk_is_refused() -> None:
    request, auth, body = aws_example()
    assert refusal(body[:-86], request, auth) == "IncompleteBody"
