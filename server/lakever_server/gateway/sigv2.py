"""AWS Signature Version 2 verification (``Authorization: AWS key:sig`` and presigned
``AWSAccessKeyId``/``Signature``/``Expires`` URLs), still used by older S3 clients.

The canonical resource, the ``x-amz-*`` header block and the HMAC-SHA1 come from
botocore's ``HmacV1Auth``. Written by hand: the first lines of the string to sign
(botocore's version overwrites ``Date`` with the current time, as a signer would), header
parsing, and the clock-skew and expiry checks.
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from botocore.auth import HmacV1Auth
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from lakever_server.gateway.errors import (
    S3Error,
    invalid_access_key,
    malformed_authorization,
    signature_mismatch,
)
from lakever_server.gateway.sigv4 import MAX_SKEW, Authenticated, SecretLookup, SignableRequest


def _string_to_sign(
    request: SignableRequest, date_line: str, secret: str
) -> tuple[str, HmacV1Auth]:
    signer = HmacV1Auth(Credentials("", secret))
    headers = HTTPHeaders()
    for name, value in request.headers:
        headers[name] = value
    lines = [
        request.method.upper(),
        (request.header("content-md5") or "").strip(),
        (request.header("content-type") or "").strip(),
        date_line,
    ]
    custom = signer.canonical_custom_headers(headers)
    if custom:
        lines.append(custom)
    split = urlsplit(f"http://lakever{request.raw_path or '/'}?{request.raw_query}")
    lines.append(signer.canonical_resource(split))
    return "\n".join(lines), signer


def _check(request: SignableRequest, secret: str, date_line: str, signature: str) -> None:
    string_to_sign, signer = _string_to_sign(request, date_line, secret)
    expected = signer.sign_string(string_to_sign)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise signature_mismatch()


def verify_header_auth(
    request: SignableRequest, secret_lookup: SecretLookup, now: datetime | None = None
) -> Authenticated:
    """Verify ``Authorization: AWS <access key id>:<base64 HMAC-SHA1>``."""
    value = request.header("authorization") or ""
    scheme, _, credentials = value.partition(" ")
    access_key_id, sep, signature = credentials.strip().rpartition(":")
    if scheme != "AWS" or not sep or not access_key_id:
        raise malformed_authorization("expected 'AWS <access key id>:<signature>'")
    amz_date = request.header("x-amz-date")
    date = amz_date or request.header("date")
    if not date:
        raise S3Error("AccessDenied", "the request has neither Date nor x-amz-date", 403)
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise S3Error("AccessDenied", f"invalid date {date!r}", 403) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
        raise S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
            403,
        )
    secret = secret_lookup(access_key_id)
    if secret is None:
        raise invalid_access_key()
    # With x-amz-date present, the Date line of the string to sign is empty (it is
    # signed through the x-amz-* header block instead).
    _check(request, secret, "" if amz_date else date.strip(), signature)
    return Authenticated(access_key_id)


def verify_presigned(
    request: SignableRequest, secret_lookup: SecretLookup, now: datetime | None = None
) -> Authenticated:
    """Verify a SigV2 presigned URL; ``Expires`` (epoch seconds) is enforced."""
    params = dict(request.query_pairs())
    access_key_id = params.get("AWSAccessKeyId", "")
    signature = params.get("Signature", "")
    expires = params.get("Expires", "")
    if not access_key_id or not signature or not expires.isdigit():
        raise S3Error(
            "AuthorizationQueryParametersError",
            "AWSAccessKeyId, Signature and Expires are required",
            400,
        )
    current = now.timestamp() if now else time.time()
    if current > int(expires):
        raise S3Error("AccessDenied", "Request has expired", 403)
    secret = secret_lookup(access_key_id)
    if secret is None:
        raise invalid_access_key()
    _check(request, secret, expires, signature)
    return Authenticated(access_key_id)
