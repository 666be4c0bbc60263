"""A real S3-compatible server for tests: moto's standalone server, as its own process.

Use the fixtures from any test module (re-export them from a ``conftest.py``)::

    from tests.support.s3 import s3_bucket, s3_server

    def test_something(s3_bucket: S3Bucket) -> None:
        client = s3_bucket.server.client()
        ...

``s3_server`` starts one ``moto_server`` per test session (per xdist worker) on a free
port of 127.0.0.1 and kills it at the end; ``s3_bucket`` creates a fresh, empty bucket
for each test. Or use ``start_s3_server()`` (a context manager) from a script.

moto keeps everything in memory: it speaks the S3 protocol faithfully enough for
functional tests (including multipart uploads and ranged reads) but is no durability or
performance test.
"""

from __future__ import annotations

import functools
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
STARTUP_DEADLINE_S = 30.0
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where a running S3-compatible server listens and how to sign requests for it."""

    endpoint_url: str
    region: str = REGION
    access_key_id: str = "lakever-test-key"
    secret_access_key: str = "lakever-test-secret"  # any value works with moto

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``S3BlockStore`` / ``open_block_store("s3", ...)``."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style addressing), made once."""
        return _client(self)


@functools.cache
def _client(server: S3Server) -> Any:
    # Building a client parses the service model (slow); clients are thread-safe.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on a running server."""

    server: S3Server
    name: str

    @property
    def uri(self) -> str:
        """``s3://<bucket>``, the prefix of every address in this bucket."""
        return f"s3://{self.name}"


def free_port() -> int:
    """A TCP port nobody listens on right now (the server may still lose a race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(process: subprocess.Popen[bytes], url: str) -> bool:
    """Poll ``url`` until it answers; ``False`` if the process exits or time runs out."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            process.wait(timeout=0.05)  # doubles as the pause between polls
            return False  # it exited: most likely the port was taken meanwhile
        except subprocess.TimeoutExpired:
            continue
    return False


@contextmanager
def start_s3_server(attempts: int = 3) -> Iterator[S3Server]:
    """Run ``moto_server`` on a free port until the block exits."""
    with tempfile.TemporaryFile() as log:
        for _ in range(attempts):
            port = free_port()
            process = subprocess.Popen(
                [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            endpoint = f"http://127.0.0.1:{port}"
            try:
                if _wait_until_serving(process, endpoint):
                    yield S3Server(endpoint_url=endpoint)
                    return
            finally:
                process.kill()
                process.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"moto_server did not start after {attempts} attempts:\n{output}")


def create_bucket(server: S3Server, prefix: str = "lakever") -> S3Bucket:
    """Create an empty bucket with a random name."""
    name = f"{prefix}-{secrets.token_hex(6)}"
    server.client().create_bucket(Bucket=name)
    return S3Bucket(server=server, name=name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server for the whole session, killed at the end."""
    with start_s3_server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    """A fresh, empty bucket on the session's S3 server."""
    return create_bucket(s3_server)
