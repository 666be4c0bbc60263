"""Request bodies as S3 clients send them: plain or ``aws-chunked``, checked while streaming.

``verified_body`` turns the raw body into the object's bytes and checks, without ever
holding more than one chunk:

- the declared ``x-amz-content-sha256`` (a signed payload);
- per-chunk signatures of ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` bodies and the
  trailer signature;
- ``Content-MD5``, ``x-amz-checksum-*`` headers and trailing checksums
  (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, boto3's default over TLS): CRC32, CRC32C,
  CRC64NVME (the last two with ``awscrt``, the checksum library of the AWS SDKs), SHA-1
  and SHA-256;
- ``x-amz-decoded-content-length``.

A failed check raises ``S3Error`` from inside the iterator, after the last byte: the
catalog's ``write_object`` then never stages the entry, so a bad upload leaves nothing.
A verified checksum is then in ``VerifiedBody.checksum_headers``, for the response, as S3
returns it. Digests run on another core while the consumer stores each block
(``storage.block.digests``). The ``aws-chunked`` framing is parsed by hand (botocore only
writes it), handing on slices of the received blocks rather than copies of copies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from collections.abc import Iterable, Iterator

from awscrt import checksums

from lakever_server.gateway.errors import S3Error, signature_mismatch
from lakever_server.gateway.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Authenticated,
    ChunkSigner,
    SignableRequest,
)
from lakever_server.storage.block.digests import BackgroundDigests, Hasher

_MAX_LINE = 8192
_STREAMING = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_COALESCE = 64 * 1024
"""Decoded ``aws-chunked`` data is handed on in pieces of at least this size: the small
chunks some clients send (8-64 KiB) are joined, since a write and a hash call each would
cost more than a copy. Larger pieces pass as they are: the consumers gather them (into
1 MiB digest batches, and the aligned buffer of a direct write), and joining pieces of a
few hundred KiB copied most bytes once more (botocore's chunks are 1 MiB, cut where the
received blocks end)."""


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


class _Crc32c:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        self._value = checksums.crc32c(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


class _Crc64Nvme:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        self._value = checksums.crc64nvme(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(8, "big")


_CHECKSUMS: dict[str, tuple[type[Hasher] | None, int]] = {
    # algorithm (x-amz-checksum-<algorithm>): its hasher and its digest size in bytes
    "crc32": (_Crc32, 4),
    "crc32c": (_Crc32c, 4),
    "crc64nvme": (_Crc64Nvme, 8),
    "sha1": (None, 20),
    "sha256": (None, 32),
}


def _checksum_hash(algorithm: str) -> Hasher | None:
    """A hasher for an ``x-amz-checksum-<algorithm>``; ``None`` for an unknown one."""
    if algorithm == "sha1":
        return hashlib.sha1()
    if algorithm == "sha256":
        return hashlib.sha256()
    hasher, _ = _CHECKSUMS.get(algorithm, (None, 0))
    return hasher() if hasher is not None else None


class _Expectation:
    """One digest the body must match, computed as the body streams."""

    def __init__(self, name: str, hasher: Hasher, expected: bytes, error: S3Error) -> None:
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


def _checksum_value(header: str, value: str) -> bytes:
    """The decoded ``x-amz-checksum-<algorithm>`` value; S3's ``InvalidRequest`` if it is
    not base64 of the algorithm's digest size."""
    _, size = _CHECKSUMS[header.removeprefix("x-amz-checksum-")]
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != size:
        raise S3Error("InvalidRequest", f"Value for {header} header is invalid.", 400)
    return decoded


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
    return _Expectation(header, hasher, _checksum_value(header, value), error)


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
    """The ``aws-chunked`` framing over an iterator of received blocks."""

    def __init__(self, raw: Iterable[bytes]) -> None:
        self._blocks = iter(raw)
        self._block = b""
        self._at = 0

    def _next(self) -> None:
        """Move to the next non-empty block, or fail: the framing needs more."""
        for block in self._blocks:
            if block:
                self._block, self._at = block, 0
                return
        raise S3Error("IncompleteBody", "the aws-chunked body is truncated", 400)

    def line(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\r\n"):
            if self._at >= len(self._block):
                self._next()
            end = self._block.find(b"\n", self._at)
            stop = len(self._block) if end < 0 else end + 1
            line += self._block[self._at : stop]
            self._at = stop
            if len(line) > _MAX_LINE:
                raise S3Error("IncompleteBody", "the aws-chunked body is truncated", 400)
        return bytes(line[:-2])

    def pieces(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes, as slices of the received blocks (a whole block when
        it falls inside, without a copy)."""
        while size:
            if self._at >= len(self._block):
                self._next()
            take = min(size, len(self._block) - self._at)
            if self._at == 0 and take == len(self._block):
                piece = self._block
            else:
                piece = self._block[self._at : self._at + take]
            self._at += take
            size -= take
            yield piece

    def exactly(self, size: int) -> bytes:
        return b"".join(self.pieces(size))


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
        chunk_hash = hashlib.sha256() if signer is not None else None
        for piece in reader.pieces(size):
            if chunk_hash is not None:
                chunk_hash.update(piece)
            # Handed on before the chunk's signature is checked: a failed check raises
            # before the body ends, so nothing unverified is ever stored.
            yield piece
        if signer is not None and chunk_hash is not None:
            name, _, signature = extension.decode("latin-1").partition("=")
            expected = signer.chunk_signature(previous, chunk_hash.hexdigest())
            if name.strip() != "chunk-signature" or not hmac.compare_digest(expected, signature):
                raise signature_mismatch()
            previous = signature
        if size == 0:
            break
        if reader.exactly(2) != b"\r\n":
            raise S3Error("IncompleteBody", "malformed aws-chunked chunk", 400)
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


def _coalesced(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` joined into blocks of at least ``_COALESCE`` bytes (large ones as they
    are)."""
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        if not pending and len(piece) >= _COALESCE:
            yield piece
            continue
        pending.append(piece)
        size += len(piece)
        if size >= _COALESCE:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def is_aws_chunked(auth: Authenticated, request: SignableRequest) -> bool:
    encoding = request.header("content-encoding") or ""
    return auth.content_sha256 in _STREAMING or "aws-chunked" in encoding.lower()


def needs_checking(auth: Authenticated, request: SignableRequest) -> bool:
    """Whether the body has anything to decode or check (``VerifiedBody``): ``aws-chunked``
    framing, a signed payload hash, ``Content-MD5``, an ``x-amz-checksum-*`` or a
    trailer. A body with none of them (``UNSIGNED-PAYLOAD``) is the object as it is."""
    if is_aws_chunked(auth, request) or len(auth.content_sha256) == 64:
        return True
    return any(
        name in ("content-md5", "x-amz-trailer")
        or (name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type")
        for name, _ in request.headers
    )


def decoded_length(auth: Authenticated, request: SignableRequest) -> int | None:
    """The object's size when the client declared it (``Content-Length`` is the framed
    size for ``aws-chunked`` bodies)."""
    header = "x-amz-decoded-content-length" if is_aws_chunked(auth, request) else "content-length"
    value = request.header(header)
    return int(value) if value is not None and value.isdigit() else None


class VerifiedBody:
    """The object's bytes from the raw request body, checked as described above.

    Iterate it once. After the last block, ``checksum_headers`` holds the
    ``x-amz-checksum-<algorithm>`` the client sent (in a header or a trailer), now
    verified, as S3 returns it in the response.
    """

    def __init__(self, raw: Iterable[bytes], auth: Authenticated, request: SignableRequest):
        self._raw = raw
        self._auth = auth
        self._request = request
        self.checksum_headers: dict[str, str] = {}

    def __iter__(self) -> Iterator[bytes]:
        auth, request = self._auth, self._request
        expectations = _expectations(auth, request)
        trailers: dict[str, str] = {}
        chunked = is_aws_chunked(auth, request)
        data: Iterable[bytes] = self._raw
        if chunked:
            data = _coalesced(_decode_chunks(self._raw, auth.chunk_signer, trailers))
        expected_size = decoded_length(auth, request) if chunked else None
        trailer_hashers: dict[str, Hasher] = {}
        declared_trailer = (request.header("x-amz-trailer") or "").strip().lower()
        if declared_trailer.startswith("x-amz-checksum-"):
            hasher = _checksum_hash(declared_trailer.removeprefix("x-amz-checksum-"))
            if hasher is not None:
                trailer_hashers[declared_trailer] = hasher
        # Hashed on another core while the consumer stores the block.
        digests = BackgroundDigests(
            [e.hasher for e in expectations] + list(trailer_hashers.values())
        )
        size = 0
        for block in data:
            digests.update(block)
            size += len(block)
            yield block
        digests.finish()
        if expected_size is not None and size != expected_size:
            raise S3Error(
                "IncompleteBody", "You did not provide the number of bytes specified.", 400
            )
        for expectation in expectations:
            expectation.check()
        for name, hasher in trailer_hashers.items():
            if name not in trailers:
                raise S3Error("MalformedTrailerError", f"the trailer {name} is missing", 400)
            _Expectation(
                name,
                hasher,
                _checksum_value(name, trailers[name]),
                S3Error(
                    "BadDigest",
                    f"The {name} you specified did not match the calculated checksum.",
                ),
            ).check()
        verified = [(e.name, e.hasher) for e in expectations] + list(trailer_hashers.items())
        for name, hasher in verified:
            if name.startswith("x-amz-checksum-"):
                self.checksum_headers[name] = base64.b64encode(hasher.digest()).decode()


def verified_body(
    raw: Iterable[bytes], auth: Authenticated, request: SignableRequest
) -> Iterator[bytes]:
    """The object's bytes from the raw request body, checked as described above."""
    return iter(VerifiedBody(raw, auth, request))
