"""WebHDFS errors: lakever errors as the ``RemoteException`` JSON Hadoop clients rethrow.

Hadoop's ``WebHdfsFileSystem`` rebuilds the Java exception from ``javaClassName``, so a
missing path must be ``java.io.FileNotFoundException`` and an existing one
``org.apache.hadoop.fs.FileAlreadyExistsException`` for callers (Spark's committers
among them) to react as they do on HDFS. Status codes follow the NameNode's
``ExceptionHandler``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakever_server import errors
from lakever_server.webhdfs.responses import HadoopJSONResponse


@dataclass(frozen=True)
class _Java:
    status: int
    name: str
    java_class: str


FILE_NOT_FOUND = _Java(404, "FileNotFoundException", "java.io.FileNotFoundException")
ALREADY_EXISTS = _Java(
    403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException"
)
ACCESS_CONTROL = _Java(
    403, "AccessControlException", "org.apache.hadoop.security.AccessControlException"
)
SECURITY = _Java(401, "SecurityException", "java.lang.SecurityException")
ILLEGAL_ARGUMENT = _Java(400, "IllegalArgumentException", "java.lang.IllegalArgumentException")
UNSUPPORTED = _Java(400, "UnsupportedOperationException", "java.lang.UnsupportedOperationException")
IO = _Java(403, "IOException", "java.io.IOException")
PATH_IS_NOT_EMPTY = _Java(
    403, "PathIsNotEmptyDirectoryException", "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
)
INTERNAL = _Java(500, "RuntimeException", "java.lang.RuntimeException")


class WebHdfsError(errors.LakeverError):
    """A failure with a specific Java exception (``PathIsNotEmptyDirectoryException``, ...)."""

    def __init__(self, java: _Java, message: str) -> None:
        super().__init__(message)
        self.java = java


def _java_of(exc: Exception) -> _Java:
    if isinstance(exc, WebHdfsError):
        return exc.java
    if isinstance(exc, errors.NotFound):
        return FILE_NOT_FOUND
    if isinstance(exc, errors.AlreadyExists):
        return ALREADY_EXISTS
    if isinstance(exc, errors.ProtectedBranch | errors.Forbidden):
        return ACCESS_CONTROL
    if isinstance(exc, errors.Unauthorized):
        return SECURITY
    if isinstance(exc, errors.InvalidValue | errors.RangeNotSatisfiable):
        return ILLEGAL_ARGUMENT
    if isinstance(exc, errors.LakeverError):
        return IO
    return INTERNAL


def remote_exception(exc: Exception) -> HadoopJSONResponse:
    """The ``{"RemoteException": ...}`` response for ``exc``."""
    java = _java_of(exc)
    message = exc.message if isinstance(exc, errors.LakeverError) else "internal error"
    body = {
        "RemoteException": {
            "exception": java.name,
            "javaClassName": java.java_class,
            "message": message,
        }
    }
    return HadoopJSONResponse(body, status_code=java.status)
