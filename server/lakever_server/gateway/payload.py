"""Request bodies as S3 clients send them: plain or ``aws-chunked``, checked while streaming.

``verified_body`` turns the raw body into the object's bytes and checks, without ever
holding more than one chunk:

- the declared ``x-amz-content-sha256`` (a signed payload);
- per-chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` bodies and the
  trailer signature;
- ``Content-MD5``, ``x-amz-checksum-*`` headers and trailing checksums
  (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, boto3's default over TLS);
- ``x-amz-decoded-content-length``.

A failed check raises ``S3Error`` from inside the iterator, after the last byte: the
catalog's ``write_object`` then never stages the entry, so a bad upload leaves nothing.
The ``aws-chunked`` framing is parsed by hand: botocore only writes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

from lakever_server.gateway.errors import S3Error, signature_mismatch
from lakever_server.gateway.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Authenticated,
    ChunkSigner,
    SignableRequest,
)

_MAX_LINE = 8192
_STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def _checksum_hash(algorithm: str) -> _Hash | None:
    """A hasher for an ``x-amz-checksum-<algorithm>``; ``None`` for algorithms (CRC32C,
    CRC64NVME) that need a native library we do not ship: those are accepted unchecked,
    the signature still covers the request."""
    if algorithm == "crc32":
        return _Crc32()
    if algorithm == "sha1":
        return hashlib.sha1()
    if algorithm == "sha256":
        return hashlib.sha256()
    return None


class _Expectation:
    """One digest the body must match, computed as the body streams."""

    def __init__(self, name: str, hasher: _Hash, expected: bytes, error: S3Error) -> None:
        self.name = name
        self.hasher = hasher
        self.expected = expected
        self.error = error

    def check(self) -> None:
        if not hmac.compare_digest(self.hasher.digest(), self.expected):
            raise self.error


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest", f"the {name} you specified was invalid", 400) from None


def _checksum_expectation(header: str, value: str) -> _Expectation | None:
    algorithm = header.removeprefix("x-amz-checksum-")
    hasher = _checksum_hash(algorithm)
    if hasher is None:
        return None
    error = S3Error(
        "BadDigest",
        f"The {algorithm.upper()} you specified did not match the calculated checksum.",
        400,
    )
    return _Expectation(header, hasher, _b64(value, header), error)


def _expectations(auth: Authenticated, request: SignableRequest) -> list[_Expectation]:
    found: list[_Expectation] = []
    if len(auth.content_sha256) == 64:
        found.append(
            _Expectation(
                "x-amz-content-sha256",
                hashlib.sha256(),
                bytes.fromhex(auth.content_sha256),
                S3Error(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    400,
                ),
            )
        )
    md5 = request.header("content-md5")
    if md5 is not None:
        digest = _b64(md5, "Content-MD5")
        if len(digest) != 16:
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
        bad = S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
        found.append(_Expectation("content-md5", hashlib.md5(), digest, bad))
    for name, value in request.headers:
        if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type":
            expectation = _checksum_expectation(name, value)
            if expectation is not None:
                found.append(expectation)
    return found


class _Reader:
    """A byte buffer over an iterator of blocks, for the chunk parser."""

    def __init__(self, raw: Iterable[bytes]) -> None:
        self._blocks = iter(raw)
        self._buffer = bytearray()

    def _fill(self) -> bool:
        block = next(self._blocks, None)
        if block is None:
            return False
        self._buffer += block
        return True

    def line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > _MAX_LINE or not self._fill():
                raise S3Error("IncompleteBody", "the aws-chunked body is truncated", 400)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise S3Error("IncompleteBody", "the aws-chunked body is truncated", 400)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _decode_chunks(
    raw: Iterable[bytes], signer: ChunkSigner | None, trailers: dict[str, str]
) -> Iterator[bytes]:
    """Yield the data of each ``aws-chunked`` chunk, verifying chunk signatures, and fill
    ``trailers`` with the trailing headers."""
    reader = _Reader(raw)
    previous = signer.seed_signature if signer else ""
    while True:
        header = reader.line()
        size_text, _, extension = header.partition(b";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise S3Error("IncompleteBody", "malformed aws-chunked chunk header", 400) from None
        data = reader.exactly(size) if size else b""
        if signer is not None:
            name, _, signature = extension.decode("latin-1").partition("=")
            expected = signer.chunk_signature(previous, hashlib.sha256(data).hexdigest())
            if name.strip() != "chunk-signature" or not hmac.compare_digest(expected, signature):
                raise signature_mismatch()
            previous = signature
        if size == 0:
            break
        if reader.exactly(2) != b"\r\n":
            raise S3Error("IncompleteBody", "malformed aws-chunked chunk", 400)
        yield data
    canonical_trailer = b""
    while line := reader.line():
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            if signer is None or not hmac.compare_digest(
                signer.trailer_signature(previous, canonical_trailer), value.strip()
            ):
                raise signature_mismatch()
            continue
        trailers[name] = value.strip()
        canonical_trailer += f"{name}:{value.strip()}\n".encode("latin-1")


def is_aws_chunked(auth: Authenticated, request: SignableRequest) -> bool:
    encoding = request.header("content-encoding") or ""
    return auth.content_sha256 in _STREAMING or "aws-chunked" in encoding.lower()


def decoded_length(auth: Authenticated, request: SignableRequest) -> int | None:
    """The object's size when the client declared it (``Content-Length`` is the framed
    size for ``aws-chunked`` bodies)."""
    header = "x-amz-decoded-content-length" if is_aws_chunked(auth, request) else "content-length"
    value = request.header(header)
    return int(value) if value is not None and value.isdigit() else None


def verified_body(
    raw: Iterable[bytes], auth: Authenticated, request: SignableRequest
) -> Iterator[bytes]:
    """The object's bytes from the raw request body, checked as described above."""
    expectations = _expectations(auth, request)
    trailers: dict[str, str] = {}
    chunked = is_aws_chunked(auth, request)
    data = _decode_chunks(raw, auth.chunk_signer, trailers) if chunked else raw
    expected_size = decoded_length(auth, request) if chunked else None
    hashers = [e.hasher for e in expectations]
    trailer_hashers: dict[str, _Hash] = {}
    declared_trailer = (request.header("x-amz-trailer") or "").strip().lower()
    if declared_trailer.startswith("x-amz-checksum-"):
        hasher = _checksum_hash(declared_trailer.removeprefix("x-amz-checksum-"))
        if hasher is not None:
            trailer_hashers[declared_trailer] = hasher
    all_hashers = hashers + list(trailer_hashers.values())
    size = 0
    for block in data:
        for hasher in all_hashers:
            hasher.update(block)
        size += len(block)
        yield block
    if expected_size is not None and size != expected_size:
        raise S3Error("IncompleteBody", "You did not provide the number of bytes specified.", 400)
    for expectation in expectations:
        expectation.check()
    for name, hasher in trailer_hashers.items():
        if name not in trailers:
            raise S3Error("MalformedTrailerError", f"the trailer {name} is missing", 400)
        _Expectation(
            name,
            hasher,
            _b64(trailers[name], name),
            S3Error(
                "BadDigest", f"The {name} you specified did not match the calculated checksum."
            ),
        ).check()
