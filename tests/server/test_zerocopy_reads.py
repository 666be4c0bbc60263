"""Large reads through the real server, whose blobs leave by ``os.sendfile``: S3 GetObject
(boto3, curl), WebHDFS OPEN and the REST API download (fast path and route) answer
byte-exact, ranges and conditions included; a connection is reused after a zero-copy
body; clients that leave mid-body leave the server healthy, with no file left open."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import h11
import httpx
import psutil
import pytest
from botocore.exceptions import ClientError

from tests.server.gateway.s3_support import create_repository, s3_client
from tests.server.webhdfs.support import access_token
from tests.support.server import RunningServer, lakever_server  # noqa: F401 (fixture)

SIZE = 40 * 1024 * 1024 + 1234
KEY = "big.bin"


@pytest.fixture(scope="module")
def stored(lakever_server: RunningServer) -> tuple[str, bytes]:  # noqa: F811
    """A repository holding ``KEY`` (``SIZE`` random bytes) on branch ``main``."""
    repository = create_repository(lakever_server, "zerocopy")
    data = os.urandom(SIZE)
    s3_client(lakever_server).put_object(Bucket=repository, Key=f"main/{KEY}", Body=data)
    return repository, data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_boto3_reads_the_object_whole_ranged_and_in_parallel_parts(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    repository, data = stored
    s3 = s3_client(lakever_server)
    whole = s3.get_object(Bucket=repository, Key=f"main/{KEY}")
    assert whole["ContentLength"] == SIZE
    assert digest(whole["Body"].read()) == digest(data)
    for spec, start, end in (
        ("bytes=1000-9999999", 1000, 10_000_000),
        (f"bytes={SIZE - 100}-", SIZE - 100, SIZE),
        ("bytes=-5000000", SIZE - 5_000_000, SIZE),
    ):
        part = s3.get_object(Bucket=repository, Key=f"main/{KEY}", Range=spec)
        assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert part["ContentRange"] == f"bytes {start}-{end - 1}/{SIZE}"
        assert part["Body"].read() == data[start:end]
    target = tmp_path / "download.bin"
    s3.download_file(repository, f"main/{KEY}", str(target))  # ranged GETs on threads
    assert digest(target.read_bytes()) == digest(data)


def test_conditional_gets_answer_before_any_body(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
) -> None:
    repository, data = stored
    s3 = s3_client(lakever_server)
    etag = s3.head_object(Bucket=repository, Key=f"main/{KEY}")["ETag"]
    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=repository, Key=f"main/{KEY}", IfNoneMatch=etag)
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=repository, Key=f"main/{KEY}", IfMatch='"0123"')
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    matched = s3.get_object(Bucket=repository, Key=f"main/{KEY}", IfMatch=etag, Range="bytes=0-9")
    assert matched["Body"].read() == data[:10]


def test_curl_reads_a_presigned_url_whole_and_ranged(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    repository, data = stored
    url = s3_client(lakever_server).generate_presigned_url(
        "get_object", Params={"Bucket": repository, "Key": f"main/{KEY}"}
    )
    whole, part = tmp_path / "whole.bin", tmp_path / "part.bin"
    # One curl, one connection: the second transfer reuses it after the first body.
    subprocess.run(
        [
            *("curl", "-sSf", "-o", str(whole), url),
            *("--next", "-sSf", "-r", "123-4567890", "-o", str(part), url),
        ],
        check=True,
        timeout=120,
    )
    assert digest(whole.read_bytes()) == digest(data)
    assert part.read_bytes() == data[123:4567891]


def test_webhdfs_open_reads_whole_and_at_an_offset(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
) -> None:
    repository, data = stored
    token = access_token(lakever_server)
    with httpx.Client(
        base_url=f"{lakever_server.url}/webhdfs/v1/{repository}/main",
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=True,
        timeout=60,
    ) as webhdfs:
        whole = webhdfs.get(f"/{KEY}", params={"op": "OPEN"})
        assert whole.status_code == 200
        assert digest(whole.content) == digest(data)
        part = webhdfs.get(f"/{KEY}", params={"op": "OPEN", "offset": 777, "length": 3_000_000})
        assert part.content == data[777:3_000_777]
        tail = webhdfs.get(f"/{KEY}", params={"op": "OPEN", "offset": SIZE - 10})
        assert tail.content == data[-10:]


@pytest.mark.parametrize(
    "extra",
    [pytest.param({}, id="fast-path"), pytest.param({"presign": "false", "x": "1"}, id="route")],
)
def test_the_rest_api_download_reads_whole_and_ranged(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
    extra: dict[str, str],
) -> None:
    repository, data = stored
    with lakever_server.http(timeout=60) as http:
        url = f"/repositories/{repository}/refs/main/objects"
        whole = http.get(url, params={"path": KEY, **extra})
        assert whole.status_code == 200
        assert whole.headers["content-length"] == str(SIZE)
        assert digest(whole.content) == digest(data)
        part = http.get(url, params={"path": KEY, **extra}, headers={"Range": "bytes=500-"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 500-{SIZE - 1}/{SIZE}"
        assert digest(part.content) == digest(data[500:])
        etag = whole.headers["etag"]
        again = http.get(url, params={"path": KEY, **extra}, headers={"If-None-Match": etag})
        assert again.status_code == 304


class Connection:
    """One raw HTTP/1.1 connection to the server's REST API, parsed with h11."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        self.http = h11.Connection(h11.CLIENT)
        credentials = f"{server.access_key_id}:{server.secret_access_key}".encode()
        self.authorization = b"Basic " + base64.b64encode(credentials)

    def request(self, repository: str, headers: list[tuple[str, bytes]] = []) -> None:  # noqa: B006
        target = f"/api/v1/repositories/{repository}/refs/main/objects?path={KEY}"
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("host", "test"), ("authorization", self.authorization), *headers],
        )
        self.sock.sendall(self.http.send(request) + self.http.send(h11.EndOfMessage()))

    def response(self) -> tuple[int, bytes]:
        status, body = 0, bytearray()
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(self.sock.recv(1024 * 1024))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.http.start_next_cycle()
                return status, bytes(body)

    def read_some(self, size: int) -> None:
        received = 0
        while received < size:
            piece = self.sock.recv(256 * 1024)
            assert piece
            received += len(piece)

    def reset(self) -> None:
        """Leave abruptly (RST), as a killed client does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def test_the_connection_is_reused_after_a_zero_copy_body(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
) -> None:
    repository, data = stored
    connection = Connection(lakever_server)
    try:
        for headers in ([], [("range", b"bytes=10-20")], []):
            connection.request(repository, headers)
            status, body = connection.response()
            assert status == (206 if headers else 200)
            assert body == (data[10:21] if headers else data)
    finally:
        connection.close()


def settle(measure: Any, expected: int, deadline_s: float = 30.0) -> int:
    """``measure()`` once it equals ``expected``, or its last value at the deadline."""
    deadline = time.monotonic() + deadline_s
    value = measure()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval
        value = measure()
    return int(value)


def test_clients_leaving_mid_body_leave_the_server_healthy_and_no_file_open(
    lakever_server: RunningServer,  # noqa: F811
    stored: tuple[str, bytes],
) -> None:
    repository, data = stored
    assert lakever_server.process is not None
    process = psutil.Process(lakever_server.process.pid)
    files_before = len(process.open_files())
    for leave in ("reset", "close", "reset-before-reading"):
        connection = Connection(lakever_server)
        connection.request(repository)
        if leave != "reset-before-reading":
            connection.read_some(2 * 1024 * 1024)
        if leave == "close":
            connection.close()
        else:
            connection.reset()
    assert settle(lambda: len(process.open_files()), files_before) == files_before
    connection = Connection(lakever_server)
    try:
        connection.request(repository)
        status, body = connection.response()
    finally:
        connection.close()
    assert status == 200
    assert digest(body) == digest(data)
    output = lakever_server.output()
    assert "Exception in ASGI application" not in output
    assert "Traceback" not in output
