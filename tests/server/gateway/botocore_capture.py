"""Requests exactly as boto3 would send them, captured before they leave the process."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from lakever_server.gateway.sigv4 import SignableRequest

ACCESS_KEY_ID = "AKIAJLAKEVERTEST0001"
SECRET = "s3cr3t/LakeverTest+Key0000000000000000000"


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


@dataclass(frozen=True)
class CapturedRequest:
    signable: SignableRequest
    body: bytes


def s3_client(
    endpoint: str = "http://127.0.0.1:9000",
    secret: str = SECRET,
    signature_version: str = "s3v4",
    access_key_id: str = ACCESS_KEY_ID,
) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(signature_version=signature_version, s3={"addressing_style": "path"}),
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send.s3", capture)
    return client


def _read_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    data = body.read()
    return data if isinstance(data, bytes) else bytes(data)


def to_signable(method: str, url: str, headers: dict[str, str] | Any) -> SignableRequest:
    parts = urlsplit(url)
    pairs = [(k.lower(), v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()]
    if not any(k == "host" for k, _ in pairs):
        pairs.append(("host", parts.netloc))
    return SignableRequest(method, parts.path, parts.query, pairs)


def capture(client: Any, operation: str, **params: Any) -> CapturedRequest:
    """Call ``operation`` and return the signed request instead of sending it."""
    try:
        getattr(client, operation)(**params)
    except _Captured as captured:
        request = captured.request
        return CapturedRequest(
            to_signable(request.method, request.url, request.headers), _read_body(request.body)
        )
    raise AssertionError("the request was not captured")


def chunks(data: bytes, size: int = 7000) -> list[bytes]:
    """Split a body as a socket might deliver it."""
    stream = io.BytesIO(data)
    return list(iter(lambda: stream.read(size), b""))
