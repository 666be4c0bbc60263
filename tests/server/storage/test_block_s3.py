"""What the S3 block store adds to the contract, against a real (moto) S3 server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import NoCredentialsError

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block import open_block_store
from lakever_server.storage.block.s3 import PART_SIZE, S3BlockStore
from tests.support.s3 import S3Bucket, S3Server

MIB = 1024 * 1024


@pytest.fixture
def s3(s3_bucket: S3Bucket) -> S3BlockStore:
    store = open_block_store("s3", **s3_bucket.server.options())
    assert isinstance(store, S3BlockStore)
    return store


def test_repr_shows_the_endpoint_and_never_the_secret(
    s3: S3BlockStore, s3_server: S3Server
) -> None:
    assert s3_server.endpoint_url in repr(s3)
    assert s3_server.secret_access_key not in repr(s3)
    assert s3_server.secret_access_key not in repr(vars(s3))


def test_an_object_larger_than_a_part_is_uploaded_in_parts(
    s3: S3BlockStore, s3_bucket: S3Bucket
) -> None:
    data = os.urandom(2 * PART_SIZE + MIB)
    result = s3.put(f"{s3_bucket.uri}/big", (data[i : i + MIB] for i in range(0, len(data), MIB)))
    assert result.md5 == hashlib.md5(data).hexdigest()  # of the content, not the upload
    head = s3_bucket.server.client().head_object(Bucket=s3_bucket.name, Key="big")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == len(data)


def test_a_failed_upload_leaves_no_object_and_no_pending_parts(
    s3: S3BlockStore, s3_bucket: S3Bucket
) -> None:
    def failing() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * MIB
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        s3.put(f"{s3_bucket.uri}/broken", failing())
    client = s3_bucket.server.client()
    assert not s3.exists(f"{s3_bucket.uri}/broken")
    assert client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []


def test_credentials_come_from_the_environment_when_not_given(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = s3_bucket.server
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bare = S3BlockStore(endpoint_url=server.endpoint_url, region=server.region)
    with pytest.raises(NoCredentialsError):
        bare.exists(f"{s3_bucket.uri}/k")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_access_key)
    from_env = S3BlockStore(endpoint_url=server.endpoint_url, region=server.region)
    from_env.put(f"{s3_bucket.uri}/k", [b"signed with env credentials"])
    assert b"".join(from_env.get(f"{s3_bucket.uri}/k")) == b"signed with env credentials"


def test_a_blob_in_a_missing_bucket_is_not_found(s3: S3BlockStore) -> None:
    with pytest.raises(NotFound):
        s3.stat("s3://no-such-bucket-lakever/k")
    with pytest.raises(NotFound):
        list(s3.get("s3://no-such-bucket-lakever/k"))


@pytest.mark.parametrize(
    "address",
    ["s3://bucket-only", "s3:///key", "local://b/k"],
    ids=["no key", "no bucket", "another scheme"],
)
def test_addresses_need_a_bucket_and_a_key(s3: S3BlockStore, address: str) -> None:
    with pytest.raises(InvalidValue):
        s3.put(address, [b"x"])
