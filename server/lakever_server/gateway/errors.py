"""S3 XML errors: the one place where lakever errors become S3 error responses.

Protocol-level failures that have no domain counterpart (a bad signature, a malformed
``Authorization`` header, a digest mismatch) are raised as ``S3Error`` with their S3 code;
everything else is a ``lakever_server.errors`` error mapped by ``to_s3_error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from lakever_server import errors


class S3Error(errors.LakeverError):
    """An error with an S3 code and HTTP status, raised inside the gateway."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def signature_mismatch() -> S3Error:
    return S3Error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
        403,
    )


def invalid_access_key() -> S3Error:
    return S3Error(
        "InvalidAccessKeyId",
        "The access key ID you provided does not exist in our records.",
        403,
    )


def malformed_authorization(message: str) -> S3Error:
    return S3Error("AuthorizationHeaderMalformed", message, 400)


@dataclass(frozen=True)
class S3ErrorBody:
    """What an S3 error response carries."""

    status: int
    code: str
    message: str


def to_s3_error(exc: Exception, *, is_key: bool = True) -> S3ErrorBody:
    """Map any exception to its S3 error; unknown exceptions become ``InternalError``.

    Args:
        exc: the error raised while serving the request.
        is_key: whether the request addressed an object (``NoSuchKey``) rather than a
            repository or ref (``NoSuchBucket``) when the error is a ``NotFound``.
    """
    if isinstance(exc, S3Error):
        return S3ErrorBody(exc.status, exc.code, exc.message)
    if isinstance(exc, errors.NotFound):
        if exc.kind in ("repository", "bucket"):
            return S3ErrorBody(404, "NoSuchBucket", exc.message)
        if exc.kind in ("upload", "multipart"):
            return S3ErrorBody(404, "NoSuchUpload", exc.message)
        if exc.kind in ("branch", "ref", "commit", "tag") or not is_key:
            # The ref is the first key segment: an unknown ref hides every key below it.
            return S3ErrorBody(404, "NoSuchKey" if is_key else "NoSuchBucket", exc.message)
        return S3ErrorBody(404, "NoSuchKey", exc.message)
    if isinstance(exc, errors.RangeNotSatisfiable):
        return S3ErrorBody(416, "InvalidRange", exc.message)
    if isinstance(exc, errors.PreconditionFailed):
        return S3ErrorBody(412, "PreconditionFailed", exc.message)
    if isinstance(exc, errors.ProtectedBranch | errors.Forbidden):
        return S3ErrorBody(403, "AccessDenied", exc.message)
    if isinstance(exc, errors.Unauthorized):
        return S3ErrorBody(403, "AccessDenied", exc.message)
    if isinstance(exc, errors.AlreadyExists):
        return S3ErrorBody(409, "BucketAlreadyExists", exc.message)
    if isinstance(exc, errors.TooManyRequests):
        return S3ErrorBody(503, "SlowDown", exc.message)
    if isinstance(exc, errors.Conflict):
        return S3ErrorBody(409, "OperationAborted", exc.message)
    if isinstance(exc, errors.InvalidValue | errors.NoChanges | errors.DirtyBranch):
        return S3ErrorBody(400, "InvalidArgument", exc.message)
    if isinstance(exc, errors.LakeverError):
        return S3ErrorBody(400, "InvalidRequest", exc.message)
    return S3ErrorBody(500, "InternalError", "We encountered an internal error. Please try again.")


def error_xml(body: S3ErrorBody, resource: str = "", request_id: str = "") -> bytes:
    """The ``<Error>`` document S3 clients parse."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(body.code)}</Code><Message>{escape(body.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{escape(request_id)}</RequestId>"
        "</Error>"
    ).encode()
