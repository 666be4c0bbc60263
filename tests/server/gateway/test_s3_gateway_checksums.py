"""CRC32C and CRC64NVME checksums through the S3 gateway, with boto3 on a real server.

boto3 computes them with awscrt, as with any S3 endpoint. The gateway checks each against
the bytes it stored, returns it in the response as S3 does, and refuses a mismatch with
S3's ``BadDigest`` (a malformed value: ``InvalidRequest``) without storing anything.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from awscrt import checksums
from botocore.exceptions import ClientError

from tests.support.server import RunningServer, lakever_server  # noqa: F401

from .s3_support import create_repository, s3_client

ALGORITHMS = {
    "CRC32C": lambda data: base64.b64encode(checksums.crc32c(data).to_bytes(4, "big")).decode(),
    "CRC64NVME": lambda data: base64.b64encode(
        checksums.crc64nvme(data).to_bytes(8, "big")
    ).decode(),
}


@pytest.fixture(scope="module")
def server(lakever_server: RunningServer) -> RunningServer:  # noqa: F811
    return lakever_server


@pytest.fixture(scope="module")
def repo(server: RunningServer) -> str:
    return create_repository(server)


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    return s3_client(server)


def error_code(failed: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = failed.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def absent(s3: Any, repo: str, key: str) -> bool:
    with pytest.raises(ClientError) as failed:
        s3.head_object(Bucket=repo, Key=key)
    return error_code(failed)[0] == 404


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_object_with_a_checksum_is_verified_and_echoed(
    s3: Any, repo: str, algorithm: str
) -> None:
    data = os.urandom(300_000)
    key = f"main/put-{algorithm}.bin"
    response = s3.put_object(Bucket=repo, Key=key, Body=data, ChecksumAlgorithm=algorithm)
    assert response[f"Checksum{algorithm}"] == ALGORITHMS[algorithm](data)
    assert s3.get_object(Bucket=repo, Key=key)["Body"].read() == data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_object_whose_checksum_differs_is_bad_digest_and_not_stored(
    s3: Any, repo: str, algorithm: str
) -> None:
    key = f"main/bad-{algorithm}.bin"
    wrong = ALGORITHMS[algorithm](b"other bytes")
    with pytest.raises(ClientError) as failed:
        s3.put_object(Bucket=repo, Key=key, Body=b"these bytes", **{f"Checksum{algorithm}": wrong})
    assert error_code(failed) == (400, "BadDigest")
    assert absent(s3, repo, key)


def test_a_malformed_checksum_is_invalid_request(s3: Any, repo: str) -> None:
    with pytest.raises(ClientError) as failed:
        s3.put_object(Bucket=repo, Key="main/malformed.bin", Body=b"x", ChecksumCRC32C="AAAA")
    assert error_code(failed) == (400, "InvalidRequest")
    assert absent(s3, repo, "main/malformed.bin")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_multipart_parts_with_a_checksum_are_verified_and_echoed(
    s3: Any, repo: str, algorithm: str
) -> None:
    key = f"main/multi-{algorithm}.bin"
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=repo, Key=key, ChecksumAlgorithm=algorithm)
    completed = []
    for number, data in enumerate(parts, 1):
        response = s3.upload_part(
            Bucket=repo,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm=algorithm,
        )
        assert response[f"Checksum{algorithm}"] == ALGORITHMS[algorithm](data)
        completed.append({"PartNumber": number, "ETag": response["ETag"]})
    with pytest.raises(ClientError) as failed:
        s3.upload_part(
            Bucket=repo,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=3,
            Body=b"corrupted on the way",
            **{f"Checksum{algorithm}": ALGORITHMS[algorithm](b"sent bytes")},
        )
    assert error_code(failed) == (400, "BadDigest")
    s3.complete_multipart_upload(
        Bucket=repo, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": completed}
    )
    assert s3.get_object(Bucket=repo, Key=key)["Body"].read() == b"".join(parts)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_upload_file_with_a_checksum_algorithm_round_trips(
    s3: Any, repo: str, algorithm: str, tmp_path: Any
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(9 * 1024 * 1024))  # two parts at boto3's 8 MiB default
    key = f"main/file-{algorithm}.bin"
    s3.upload_file(str(source), repo, key, ExtraArgs={"ChecksumAlgorithm": algorithm})
    assert s3.get_object(Bucket=repo, Key=key)["Body"].read() == source.read_bytes()
