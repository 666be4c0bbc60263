"""Which signature scheme a request uses, and verifying it against lakever access keys."""

from __future__ import annotations

from typing import Any

from lakever_server.gateway import sigv2, sigv4
from lakever_server.gateway.errors import S3Error
from lakever_server.gateway.sigv4 import Authenticated, SignableRequest


def authenticate(request: SignableRequest, auth_service: Any) -> Authenticated:
    """Verify the request's signature (SigV4 or SigV2, header or presigned).

    Args:
        request: the request as received.
        auth_service: has ``lookup_credential(access_key_id) -> Credential | None``.

    Raises:
        S3Error: ``AccessDenied`` for an anonymous request, or the verifier's error.
    """

    def secret_of(access_key_id: str) -> str | None:
        credential = auth_service.lookup_credential(access_key_id)
        if credential is None:
            # A miss may be a cached one from before the key was created (the auth cache
            # keeps misses too); a key the client holds is worth one uncached look.
            credential = auth_service.lookup_credential(access_key_id, use_cache=False)
        return None if credential is None else str(credential.secret_access_key)

    authorization = request.header("authorization") or ""
    if authorization.startswith(sigv4.ALGORITHM):
        return sigv4.verify_header_auth(request, secret_of)
    if authorization.startswith("AWS "):
        return sigv2.verify_header_auth(request, secret_of)
    names = {name for name, _ in request.query_pairs()}
    if "X-Amz-Algorithm" in names:
        return sigv4.verify_presigned(request, secret_of)
    if "AWSAccessKeyId" in names:
        return sigv2.verify_presigned(request, secret_of)
    raise S3Error("AccessDenied", "Anonymous access is not allowed.", 403)
