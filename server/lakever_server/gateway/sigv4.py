"""AWS Signature Version 4 verification: ``Authorization`` headers and presigned URLs.

The canonical forms (headers, signed-header list, query string, string to sign, the
derived signing key) come from botocore's own ``S3SigV4Auth``, so what we verify is by
construction what boto3 signs. Written by hand, because botocore only *signs*: parsing
the ``Authorization`` header and the presign parameters, choosing the headers the client
said it signed (botocore would pick its own set), clock-skew and expiry checks, and the
per-chunk signatures of ``aws-chunked`` bodies (botocore never sends signed chunks).

Signatures are compared with ``hmac.compare_digest`` so their timing reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from lakever_server.gateway.errors import (
    S3Error,
    invalid_access_key,
    malformed_authorization,
    signature_mismatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_HEX64 = re.compile(r"[0-9a-f]{64}")

SecretLookup = Callable[[str], "str | None"]
"""Returns the secret access key of an access key id, or ``None`` when unknown."""


@dataclass(frozen=True)
class SignableRequest:
    """The parts of an HTTP request that a signature covers, exactly as received.

    Attributes:
        method: the HTTP method.
        raw_path: the path as sent on the wire (still percent-encoded).
        raw_query: the query string as sent (without ``?``).
        headers: ``(lower-case name, value)`` pairs in arrival order.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """All values of header ``name`` joined with ``,`` (as HTTP allows), or ``None``."""
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    def query_pairs(self) -> list[tuple[str, str]]:
        """Decoded ``(name, value)`` pairs in order; ``?uploads`` gives ``("uploads", "")``."""
        pairs = []
        for item in self.raw_query.split("&"):
            if item:
                name, _, value = item.partition("=")
                pairs.append((unquote(name), unquote(value)))
        return pairs


@dataclass(frozen=True)
class ChunkSigner:
    """Computes the expected signature of each ``aws-chunked`` chunk (and trailer)."""

    signing_key: bytes
    timestamp: str
    scope: str
    seed_signature: str

    def chunk_signature(self, previous: str, chunk_sha256: str) -> str:
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.timestamp,
                self.scope,
                previous,
                EMPTY_SHA256,
                chunk_sha256,
            ]
        )
        return hmac.new(self.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    def trailer_signature(self, previous: str, trailer: bytes) -> str:
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                self.timestamp,
                self.scope,
                previous,
                hashlib.sha256(trailer).hexdigest(),
            ]
        )
        return hmac.new(self.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Authenticated:
    """Who signed a request, and how its body must be checked.

    Attributes:
        access_key_id: the lakever access key that signed.
        content_sha256: the declared payload hash: a hex SHA-256 that the body must
            match, ``UNSIGNED-PAYLOAD``, one of the ``STREAMING-*`` modes, or ``""``
            (SigV2: the body is not covered).
        chunk_signer: for signed streaming bodies, the chunk-signature chain.
    """

    access_key_id: str
    content_sha256: str = ""
    chunk_signer: ChunkSigner | None = None


@dataclass(frozen=True)
class _Credential:
    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _parse_credential(value: str) -> _Credential:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise malformed_authorization(
            "the Credential must be <key>/<date>/<region>/s3/aws4_request"
        )
    if parts[3] != "s3":
        raise malformed_authorization(f"the Credential names service {parts[3]!r}, not 's3'")
    return _Credential(parts[0], parts[1], parts[2], parts[3])


def _parse_timestamp(value: str | None) -> datetime:
    if not value:
        raise S3Error("AccessDenied", "the request has no X-Amz-Date", 403)
    try:
        return datetime.strptime(value, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise S3Error(
            "AccessDenied", f"X-Amz-Date {value!r} is not a valid timestamp", 403
        ) from None


class _Canonicalizer(S3SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's S3 SigV4 signer, used only for its canonical forms and key derivation."""

    def __init__(self, credential: _Credential, secret: str, timestamp: str) -> None:
        super().__init__(
            Credentials(credential.access_key_id, secret), credential.service, credential.region
        )
        self._request = AWSRequest(method="GET", url="http://lakever/")
        self._request.context["timestamp"] = timestamp

    def expected_signature(self, canonical_request: str) -> str:
        string_to_sign = self.string_to_sign(self._request, canonical_request)
        return str(self.signature(string_to_sign, self._request))

    def signing_key(self) -> bytes:
        key = self.credentials.secret_key
        k_date = self._sign(f"AWS4{key}".encode(), self._request.context["timestamp"][0:8])
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        return bytes(self._sign(k_service, "aws4_request"))


def _canonical_requests(
    request: SignableRequest,
    signer: _Canonicalizer,
    signed_headers: list[str],
    query: list[tuple[str, str]],
    payload: str,
) -> list[str]:
    """The canonical request for the path as sent and, when different, for the path
    strictly re-encoded (clients disagree on which characters to escape)."""
    headers = HTTPHeaders()
    for name in signed_headers:
        value = request.header(name)
        if value is None:
            raise S3Error("AccessDenied", f"signed header {name!r} is missing", 403)
        headers[name] = value
    tail = [
        signer._canonical_query_string_params(query),
        signer.canonical_headers(headers) + "\n",
        signer.signed_headers(headers),
        payload,
    ]
    paths = [request.raw_path or "/"]
    strict = quote(unquote(request.raw_path), safe="/~") or "/"
    if strict != paths[0]:
        paths.append(strict)
    return ["\n".join([request.method.upper(), path, *tail]) for path in paths]


def _matches(signer: _Canonicalizer, canonical_requests: list[str], signature: str) -> bool:
    ok = False
    for canonical in canonical_requests:
        ok |= hmac.compare_digest(signer.expected_signature(canonical), signature)
    return ok


def _lookup(secret_lookup: SecretLookup, access_key_id: str) -> str:
    secret = secret_lookup(access_key_id)
    if secret is None:
        raise invalid_access_key()
    return secret


def _parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise malformed_authorization(f"unsupported algorithm {algorithm!r}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, field_value = item.strip().partition("=")
        if sep:
            fields[name] = field_value
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in fields:
            raise malformed_authorization(f"the Authorization header has no {required}")
    return fields


def verify_header_auth(
    request: SignableRequest, secret_lookup: SecretLookup, now: datetime | None = None
) -> Authenticated:
    """Verify ``Authorization: AWS4-HMAC-SHA256 ...``.

    Raises:
        S3Error: ``AuthorizationHeaderMalformed``, ``InvalidAccessKeyId``,
            ``RequestTimeTooSkewed``, ``SignatureDoesNotMatch`` or ``AccessDenied``.
    """
    fields = _parse_authorization(request.header("authorization") or "")
    credential = _parse_credential(fields["Credential"])
    timestamp = request.header("x-amz-date") or ""
    when = _parse_timestamp(timestamp)
    if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
        raise S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
            403,
        )
    if credential.date != timestamp[:8]:
        raise malformed_authorization("the Credential date differs from X-Amz-Date")
    payload = request.header("x-amz-content-sha256")
    if payload is None:
        raise S3Error("InvalidRequest", "Missing required header x-amz-content-sha256", 400)
    known = (
        UNSIGNED_PAYLOAD,
        STREAMING_SIGNED,
        STREAMING_SIGNED_TRAILER,
        STREAMING_UNSIGNED_TRAILER,
    )
    if payload not in known and not _HEX64.fullmatch(payload):
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be a hex SHA-256", 400)
    signed_headers = fields["SignedHeaders"].split(";")
    if "host" not in signed_headers:
        raise S3Error("AccessDenied", "the host header must be signed", 403)

    secret = _lookup(secret_lookup, credential.access_key_id)
    signer = _Canonicalizer(credential, secret, timestamp)
    canonical = _canonical_requests(request, signer, signed_headers, request.query_pairs(), payload)
    signature = fields["Signature"]
    if not _matches(signer, canonical, signature):
        raise signature_mismatch()
    chunk_signer = None
    if payload in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
        chunk_signer = ChunkSigner(signer.signing_key(), timestamp, credential.scope, signature)
    return Authenticated(credential.access_key_id, payload, chunk_signer)


def verify_presigned(
    request: SignableRequest, secret_lookup: SecretLookup, now: datetime | None = None
) -> Authenticated:
    """Verify a presigned URL (``X-Amz-Algorithm`` ... ``X-Amz-Signature`` in the query).

    Raises:
        S3Error: as ``verify_header_auth``; an expired URL is ``AccessDenied``.
    """
    query = request.query_pairs()
    params = dict(query)
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise malformed_authorization("X-Amz-Algorithm must be AWS4-HMAC-SHA256")
    for required in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"):
        if required not in params:
            raise S3Error("AuthorizationQueryParametersError", f"missing {required}", 400)
    credential = _parse_credential(params["X-Amz-Credential"])
    timestamp = params["X-Amz-Date"]
    when = _parse_timestamp(timestamp)
    try:
        expires = int(params.get("X-Amz-Expires", "3600"))
    except ValueError:
        raise S3Error(
            "AuthorizationQueryParametersError", "X-Amz-Expires must be a number", 400
        ) from None
    if not 0 < expires <= MAX_PRESIGN_EXPIRY:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be 1 to 604800", 400)
    current = now or datetime.now(UTC)
    if current > when + timedelta(seconds=expires):
        raise S3Error("AccessDenied", "Request has expired", 403)
    if when - current > MAX_SKEW:
        raise S3Error("AccessDenied", "Request is not valid yet", 403)
    if credential.date != timestamp[:8]:
        raise malformed_authorization("the Credential date differs from X-Amz-Date")

    secret = _lookup(secret_lookup, credential.access_key_id)
    signer = _Canonicalizer(credential, secret, timestamp)
    payload = request.header("x-amz-content-sha256") or UNSIGNED_PAYLOAD
    if payload != UNSIGNED_PAYLOAD and not _HEX64.fullmatch(payload):
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be a hex SHA-256", 400)
    unsigned = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    canonical = _canonical_requests(
        request,
        signer,
        params["X-Amz-SignedHeaders"].split(";"),
        unsigned,
        payload,
    )
    if not _matches(signer, canonical, params["X-Amz-Signature"]):
        raise signature_mismatch()
    return Authenticated(credential.access_key_id, payload)
