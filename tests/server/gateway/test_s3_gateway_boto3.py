"""The S3 gateway served by a real lakever server, driven by boto3 at default settings."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import lakefs_sdk
import pytest
from botocore.exceptions import ClientError

from tests.support.server import RunningServer, lakever_server  # noqa: F401

from .s3_support import commit, create_repository, physical_address, s3_client


@pytest.fixture(scope="module")
def server(lakever_server: RunningServer) -> RunningServer:  # noqa: F811
    return lakever_server


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    return s3_client(server)


@pytest.fixture
def repo(server: RunningServer) -> str:
    return create_repository(server)


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as failed:
        call(**params)
    return str(failed.value.response["Error"]["Code"])


def test_put_then_get_round_trips_bytes_metadata_and_content_type(s3: Any, repo: str) -> None:
    body = b"id,name\n1,ada\n"
    put = s3.put_object(
        Bucket=repo,
        Key="main/people.csv",
        Body=body,
        ContentType="text/csv",
        Metadata={"owner": "ana", "run-id": "42"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=repo, Key="main/people.csv")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"owner": "ana", "run-id": "42"}
    head = s3.head_object(Bucket=repo, Key="main/people.csv")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]


def test_buckets_are_repositories(s3: Any, repo: str) -> None:
    assert repo in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=repo)
    assert error_code(s3.head_bucket, Bucket="no-such-repo") == "404"
    assert error_code(s3.list_objects_v2, Bucket="no-such-repo", Prefix="main/") == "NoSuchBucket"


def test_missing_keys_and_refs_are_no_such_key(s3: Any, repo: str) -> None:
    assert error_code(s3.get_object, Bucket=repo, Key="main/absent") == "NoSuchKey"
    assert error_code(s3.get_object, Bucket=repo, Key="no-branch/x") == "NoSuchKey"
    assert error_code(s3.head_object, Bucket=repo, Key="main/absent") == "404"


def test_ranges_and_conditional_reads(s3: Any, repo: str) -> None:
    s3.put_object(Bucket=repo, Key="main/digits", Body=b"0123456789")
    etag = s3.head_object(Bucket=repo, Key="main/digits")["ETag"]
    part = s3.get_object(Bucket=repo, Key="main/digits", Range="bytes=2-4")
    assert part["Body"].read() == b"234"
    assert part["ContentRange"] == "bytes 2-4/10"
    assert s3.get_object(Bucket=repo, Key="main/digits", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=repo, Key="main/digits", Range="bytes=7-")["Body"].read() == b"789"
    assert error_code(s3.get_object, Bucket=repo, Key="main/digits", Range="bytes=10-") == (
        "InvalidRange"
    )
    assert s3.get_object(Bucket=repo, Key="main/digits", IfMatch=etag)["Body"].read()
    assert error_code(s3.get_object, Bucket=repo, Key="main/digits", IfMatch='"0000"') == (
        "PreconditionFailed"
    )
    assert error_code(s3.get_object, Bucket=repo, Key="main/digits", IfNoneMatch=etag) == "304"
    modified = s3.head_object(Bucket=repo, Key="main/digits")["LastModified"]
    assert error_code(s3.get_object, Bucket=repo, Key="main/digits", IfModifiedSince=modified) == (
        "304"
    )


def put_many(s3: Any, repo: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=repo, Key=f"main/{key}", Body=key.encode())


def test_listing_v2_with_prefix_delimiter_and_continuation(s3: Any, repo: str) -> None:
    put_many(s3, repo, ["a/1", "a/2", "b/1", "c.txt", "d.txt", "e.txt"])
    top = s3.list_objects_v2(Bucket=repo, Prefix="main/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["main/a/", "main/b/"]
    assert [o["Key"] for o in top["Contents"]] == ["main/c.txt", "main/d.txt", "main/e.txt"]
    keys: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"Bucket": repo, "Prefix": "main/", "MaxKeys": 2}
    while True:
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert pages == 3
    assert keys == [f"main/{k}" for k in ["a/1", "a/2", "b/1", "c.txt", "d.txt", "e.txt"]]
    after = s3.list_objects_v2(Bucket=repo, Prefix="main/", StartAfter="main/c.txt")
    assert [o["Key"] for o in after["Contents"]] == ["main/d.txt", "main/e.txt"]


def test_listing_v1_with_markers(s3: Any, repo: str) -> None:
    put_many(s3, repo, ["x/1", "x/2", "x/3"])
    first = s3.list_objects(Bucket=repo, Prefix="main/x/", MaxKeys=2)
    assert [o["Key"] for o in first["Contents"]] == ["main/x/1", "main/x/2"]
    assert first["IsTruncated"]
    rest = s3.list_objects(Bucket=repo, Prefix="main/x/", Marker=first["NextMarker"])
    assert [o["Key"] for o in rest["Contents"]] == ["main/x/3"]
    assert not rest["IsTruncated"]


def test_odd_keys_survive_listing_with_url_encoding(s3: Any, repo: str) -> None:
    odd = ["dir with space/a+b.txt", "naïve/ü & ö.csv", "percent%2F.bin"]
    put_many(s3, repo, odd)
    listed = s3.list_objects_v2(Bucket=repo, Prefix="main/")  # boto3 asks encoding-type=url
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"main/{k}" for k in odd)
    for key in odd:
        assert s3.get_object(Bucket=repo, Key=f"main/{key}")["Body"].read() == key.encode()


def test_the_bucket_root_lists_branches_as_folders(
    server: RunningServer, s3: Any, repo: str
) -> None:
    with server.sdk_client() as client:
        lakefs_sdk.BranchesApi(client).create_branch(
            repo, lakefs_sdk.BranchCreation(name="feature", source="main")
        )
    root = s3.list_objects_v2(Bucket=repo, Delimiter="/")
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["feature/", "main/"]


def test_reads_from_commits_and_tags_writes_only_to_branches(
    server: RunningServer, s3: Any, repo: str
) -> None:
    s3.put_object(Bucket=repo, Key="main/v.txt", Body=b"v1")
    commit_id = commit(server, repo, "main", "v1")
    s3.put_object(Bucket=repo, Key="main/v.txt", Body=b"v2")
    assert s3.get_object(Bucket=repo, Key=f"{commit_id}/v.txt")["Body"].read() == b"v1"
    assert s3.get_object(Bucket=repo, Key="main/v.txt")["Body"].read() == b"v2"
    with server.sdk_client() as client:
        lakefs_sdk.TagsApi(client).create_tag(
            repo, lakefs_sdk.TagCreation(id="v1.0", ref=commit_id)
        )
    assert s3.get_object(Bucket=repo, Key="v1.0/v.txt")["Body"].read() == b"v1"
    for ref in ("v1.0", commit_id):
        assert error_code(s3.put_object, Bucket=repo, Key=f"{ref}/w.txt", Body=b"x") == (
            "AccessDenied"
        )
        assert error_code(s3.delete_object, Bucket=repo, Key=f"{ref}/v.txt") == "AccessDenied"


def test_writes_to_a_protected_branch_are_refused(
    server: RunningServer, s3: Any, repo: str
) -> None:
    with server.sdk_client() as client:
        lakefs_sdk.RepositoriesApi(client).set_branch_protection_rules(
            repo, [lakefs_sdk.BranchProtectionRule(pattern="main")]
        )
    assert error_code(s3.put_object, Bucket=repo, Key="main/x", Body=b"x") == "AccessDenied"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=repo, Key="main/x", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A multipart upload is refused when it starts, before any part is sent.
    assert error_code(s3.create_multipart_upload, Bucket=repo, Key="main/big") == "AccessDenied"


def test_copy_across_refs_shares_the_content(server: RunningServer, s3: Any, repo: str) -> None:
    s3.put_object(Bucket=repo, Key="main/src.bin", Body=b"payload", Metadata={"k": "v"})
    commit_id = commit(server, repo, "main", "src")
    copied = s3.copy_object(
        Bucket=repo, Key="main/dst.bin", CopySource={"Bucket": repo, "Key": f"{commit_id}/src.bin"}
    )
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=repo, Key="main/dst.bin")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"k": "v"}
    assert physical_address(server, repo, "main", "dst.bin") == physical_address(
        server, repo, "main", "src.bin"
    )


def test_copy_between_repositories_copies_bytes(server: RunningServer, s3: Any, repo: str) -> None:
    other = create_repository(server, "other")
    s3.put_object(Bucket=other, Key="main/a.txt", Body=b"from elsewhere")
    s3.copy_object(Bucket=repo, Key="main/b.txt", CopySource=f"{other}/main/a.txt")
    assert s3.get_object(Bucket=repo, Key="main/b.txt")["Body"].read() == b"from elsewhere"


def test_delete_object_and_delete_objects(s3: Any, repo: str) -> None:
    put_many(s3, repo, ["d1", "d2", "d3"])
    s3.delete_object(Bucket=repo, Key="main/d1")
    s3.delete_object(Bucket=repo, Key="main/never-there")  # idempotent, as in S3
    result = s3.delete_objects(
        Bucket=repo, Delete={"Objects": [{"Key": "main/d2"}, {"Key": "main/d3"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["main/d2", "main/d3"]
    assert "Contents" not in s3.list_objects_v2(Bucket=repo, Prefix="main/d")


def test_multipart_upload_with_part_copy_lists_parts_and_completes(s3: Any, repo: str) -> None:
    first = b"a" * (5 * 1024 * 1024)
    s3.put_object(Bucket=repo, Key="main/source.bin", Body=b"0123456789")
    upload = s3.create_multipart_upload(
        Bucket=repo, Key="main/big.bin", ContentType="application/x-test", Metadata={"m": "1"}
    )
    upload_id = upload["UploadId"]
    part1 = s3.upload_part(
        Bucket=repo, Key="main/big.bin", UploadId=upload_id, PartNumber=1, Body=first
    )
    part2 = s3.upload_part_copy(
        Bucket=repo,
        Key="main/big.bin",
        UploadId=upload_id,
        PartNumber=2,
        CopySource=f"{repo}/main/source.bin",
        CopySourceRange="bytes=2-5",
    )
    parts = s3.list_parts(Bucket=repo, Key="main/big.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(first)), (2, 4)]
    assert "Contents" not in s3.list_objects_v2(Bucket=repo, Prefix="main/big")
    done = s3.complete_multipart_upload(
        Bucket=repo,
        Key="main/big.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part1["ETag"]},
                {"PartNumber": 2, "ETag": part2["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["ETag"].endswith('-2"')
    got = s3.get_object(Bucket=repo, Key="main/big.bin")
    assert got["Body"].read() == first + b"2345"
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"m": "1"}


def test_aborted_uploads_are_gone(s3: Any, repo: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=repo, Key="main/x.bin")["UploadId"]
    s3.upload_part(Bucket=repo, Key="main/x.bin", UploadId=upload_id, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=repo, Key="main/x.bin", UploadId=upload_id)
    assert error_code(s3.list_parts, Bucket=repo, Key="main/x.bin", UploadId=upload_id) == (
        "NoSuchUpload"
    )


def test_completing_with_a_wrong_etag_is_invalid_part(s3: Any, repo: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=repo, Key="main/y.bin")["UploadId"]
    s3.upload_part(Bucket=repo, Key="main/y.bin", UploadId=upload_id, PartNumber=1, Body=b"y")
    code = error_code(
        s3.complete_multipart_upload,
        Bucket=repo,
        Key="main/y.bin",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"ffff"'}]},
    )
    assert code == "InvalidPart"


def test_upload_file_uses_multipart_for_large_files(s3: Any, repo: str, tmp_path: Any) -> None:
    part = 8 * 1024 * 1024  # boto3's default part size
    data = os.urandom(4 * part + 12_345)  # four whole parts and a short last one
    source = tmp_path / "large.bin"
    source.write_bytes(data)
    s3.upload_file(str(source), repo, "main/large.bin")
    head = s3.head_object(Bucket=repo, Key="main/large.bin")
    assert head["ContentLength"] == len(data)
    digests = b"".join(
        hashlib.md5(data[start : start + part]).digest() for start in range(0, len(data), part)
    )
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-5"'
    assert s3.get_object(Bucket=repo, Key="main/large.bin")["Body"].read() == data
    target = tmp_path / "back.bin"
    s3.download_file(repo, "main/large.bin", str(target))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_sigv2_clients_read_and_write(server: RunningServer, repo: str) -> None:
    old = s3_client(server, signature_version="s3")
    old.put_object(Bucket=repo, Key="main/v2.txt", Body=b"signed v2", Metadata={"a": "b"})
    assert old.get_object(Bucket=repo, Key="main/v2.txt")["Body"].read() == b"signed v2"


def test_a_recursive_listing_from_the_bucket_root_spans_branches(
    server: RunningServer, s3: Any, repo: str
) -> None:
    s3.put_object(Bucket=repo, Key="main/m1", Body=b"1")
    s3.put_object(Bucket=repo, Key="main/m2", Body=b"2")
    with server.sdk_client() as client:
        lakefs_sdk.BranchesApi(client).create_branch(
            repo, lakefs_sdk.BranchCreation(name="dev", source="main")
        )
    s3.put_object(Bucket=repo, Key="dev/d1", Body=b"3")
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": repo, "MaxKeys": 2}
    while True:
        page = s3.list_objects_v2(**kwargs)
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert keys == ["dev/d1", "main/m1", "main/m2"]
    only_main = s3.list_objects_v2(Bucket=repo, Prefix="ma")
    assert [o["Key"] for o in only_main["Contents"]] == ["main/m1", "main/m2"]
