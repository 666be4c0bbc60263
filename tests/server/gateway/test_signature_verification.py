"""SigV4 and SigV2 verification against requests signed by real botocore."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from lakever_server.gateway import sigv2, sigv4
from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.sigv4 import SignableRequest

from .botocore_capture import ACCESS_KEY_ID, SECRET, capture, s3_client, to_signable


def lookup(access_key_id: str) -> str | None:
    return SECRET if access_key_id == ACCESS_KEY_ID else None


def refused_code(verify: object, request: SignableRequest, **kwargs: object) -> str:
    with pytest.raises(S3Error) as refused:
        verify(request, lookup, **kwargs)  # type: ignore[operator]
    return refused.value.code


def replace_header(request: SignableRequest, name: str, value: str) -> SignableRequest:
    headers = [(k, value if k == name else v) for k, v in request.headers]
    return dataclasses.replace(request, headers=headers)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_buckets", {}),
        ("list_objects_v2", {"Bucket": "repo", "Prefix": "main/a b/ü+", "Delimiter": "/"}),
        (
            "get_object",
            {"Bucket": "repo", "Key": "main/dir/naïve name (1).csv", "Range": "bytes=0-9"},
        ),
        (
            "put_object",
            {"Bucket": "repo", "Key": "main/x", "Body": b"hello", "Metadata": {"k": "v"}},
        ),
        ("create_multipart_upload", {"Bucket": "repo", "Key": "main/big.bin"}),
        ("delete_objects", {"Bucket": "repo", "Delete": {"Objects": [{"Key": "main/a"}]}}),
    ],
    ids=[
        "list buckets",
        "list with odd prefix",
        "get with unicode key",
        "put with metadata",
        "create multipart (valueless query)",
        "delete objects (body)",
    ],
)
def test_header_signatures_from_boto3_verify(operation: str, params: dict[str, object]) -> None:
    captured = capture(s3_client(), operation, **params)
    auth = sigv4.verify_header_auth(captured.signable, lookup)
    assert auth.access_key_id == ACCESS_KEY_ID
    assert auth.content_sha256 == captured.signable.header("x-amz-content-sha256")


def test_a_changed_byte_anywhere_signed_is_refused() -> None:
    signed = capture(s3_client(), "get_object", Bucket="repo", Key="main/data.csv").signable
    other_path = dataclasses.replace(signed, raw_path=signed.raw_path.replace("data", "dbta"))
    other_query = dataclasses.replace(signed, raw_query="partNumber=1")
    other_method = dataclasses.replace(signed, method="DELETE")
    other_host = replace_header(signed, "host", "127.0.0.1:9001")
    for tampered in (other_path, other_query, other_method, other_host):
        assert refused_code(sigv4.verify_header_auth, tampered) == "SignatureDoesNotMatch"


def test_a_wrong_secret_is_refused() -> None:
    signed = capture(s3_client(secret="not-the-secret"), "list_buckets").signable
    assert refused_code(sigv4.verify_header_auth, signed) == "SignatureDoesNotMatch"


def test_an_unknown_access_key_is_refused() -> None:
    signed = capture(s3_client(), "list_buckets").signable
    with pytest.raises(S3Error) as refused:
        sigv4.verify_header_auth(signed, lambda _: None)
    assert refused.value.code == "InvalidAccessKeyId"
    assert refused.value.status == 403


def test_a_request_signed_too_long_ago_is_refused() -> None:
    signed = capture(s3_client(), "list_buckets").signable
    later = datetime.now(UTC) + timedelta(minutes=20)
    assert refused_code(sigv4.verify_header_auth, signed, now=later) == "RequestTimeTooSkewed"


def test_presigned_urls_from_boto3_verify_until_they_expire() -> None:
    url = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": "repo", "Key": "main/dir/a b+c.txt"}, ExpiresIn=60
    )
    parts = urlsplit(url)
    request = to_signable("GET", url, {"host": parts.netloc})
    assert sigv4.verify_presigned(request, lookup).access_key_id == ACCESS_KEY_ID
    expired = datetime.now(UTC) + timedelta(seconds=61)
    assert refused_code(sigv4.verify_presigned, request, now=expired) == "AccessDenied"
    tampered = dataclasses.replace(request, raw_path=request.raw_path + "x")
    assert refused_code(sigv4.verify_presigned, tampered) == "SignatureDoesNotMatch"
    as_put = dataclasses.replace(request, method="PUT")
    assert refused_code(sigv4.verify_presigned, as_put) == "SignatureDoesNotMatch"


def test_presigned_put_urls_verify() -> None:
    url = s3_client().generate_presigned_url(
        "put_object", Params={"Bucket": "repo", "Key": "main/up.bin"}, ExpiresIn=300
    )
    request = to_signable("PUT", url, {"host": urlsplit(url).netloc})
    assert sigv4.verify_presigned(request, lookup).content_sha256 == sigv4.UNSIGNED_PAYLOAD


def test_the_aws_documented_streaming_request_verifies_with_its_seed_signature() -> None:
    """The worked example of AWS's "Signature Calculations for the Authorization Header:
    Transferring Payload in Multiple Chunks" page, an independent test vector."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        f"x-amz-decoded-content-length;x-amz-storage-class,Signature={seed}"
    )
    request = SignableRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", authorization),
            ("x-amz-content-sha256", sigv4.STREAMING_SIGNED),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ],
    )
    when = datetime(2013, 5, 24, 0, 1, tzinfo=UTC)
    auth = sigv4.verify_header_auth(request, {"AKIAIOSFODNN7EXAMPLE": secret}.get, now=when)
    assert auth.chunk_signer is not None
    first = auth.chunk_signer.chunk_signature(
        seed, __import__("hashlib").sha256(b"a" * 65536).hexdigest()
    )
    assert first == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"


def test_sigv2_header_signatures_from_boto3_verify_and_tampering_is_refused() -> None:
    client = s3_client(signature_version="s3")
    signed = capture(
        client, "put_object", Bucket="repo", Key="main/v2.txt", Body=b"x", Metadata={"owner": "ana"}
    ).signable
    assert sigv2.verify_header_auth(signed, lookup).access_key_id == ACCESS_KEY_ID
    tampered = replace_header(signed, "x-amz-meta-owner", "eve")
    assert refused_code(sigv2.verify_header_auth, tampered) == "SignatureDoesNotMatch"
    wrong = capture(s3_client(secret="nope", signature_version="s3"), "list_buckets").signable
    assert refused_code(sigv2.verify_header_auth, wrong) == "SignatureDoesNotMatch"


def test_sigv2_presigned_urls_verify_until_they_expire() -> None:
    url = s3_client(signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": "repo", "Key": "main/v2.txt"}, ExpiresIn=60
    )
    request = to_signable("GET", url, {"host": urlsplit(url).netloc})
    assert sigv2.verify_presigned(request, lookup).access_key_id == ACCESS_KEY_ID
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert refused_code(sigv2.verify_presigned, request, now=later) == "AccessDenied"


def test_extending_a_presigned_url_expiry_breaks_its_signature() -> None:
    url = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": "repo", "Key": "main/a"}, ExpiresIn=60
    )
    request = to_signable("GET", url.replace("X-Amz-Expires=60", "X-Amz-Expires=600"), {})
    assert refused_code(sigv4.verify_presigned, request) == "SignatureDoesNotMatch"


def test_presigned_urls_valid_longer_than_a_week_are_refused() -> None:
    url = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": "repo", "Key": "main/a"}, ExpiresIn=8 * 24 * 3600
    )
    request = to_signable("GET", url, {})
    assert refused_code(sigv4.verify_presigned, request) == "AuthorizationQueryParametersError"
