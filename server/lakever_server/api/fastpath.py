"""The object-read fast path: stat, get and head without the framework's per-request
routing and dependency resolution.

Readers issue these by the thousand (listing then probing every file), and on a small
machine FastAPI's per-request work costs more than the catalog lookup itself. The fast
path authenticates exactly like the routes (``deps.authenticate_headers``), calls the
same ``object_reads`` functions, whose replies carry the same headers, and maps errors
with the same ``errors.error_response``. It serves only well-formed requests: anything
else (an unknown or repeated-oddly parameter, a missing ``path``, a boolean spelled
unusually, a query that is not ASCII) goes to the FastAPI routes, which remain the
documented (OpenAPI) definition of these endpoints and validate what they are given.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import Receive, Scope, Send

from lakever_server.api import object_reads
from lakever_server.api.deps import authenticate_headers
from lakever_server.api.errors import error_response
from lakever_server.errors import LakeverError
from lakever_server.services import Services

_METHODS = frozenset({"GET", "HEAD"})
_PREFIX = "/api/v1/repositories/"
_OBJECTS = re.compile(r"^/api/v1/repositories/([^/]+)/refs/([^/]+)/objects(/stat)?$")
_PARAMETERS = frozenset({"path", "presign", "user_metadata"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_WANTED = {b"authorization", b"cookie", b"range", b"if-none-match"}


def parse_query(raw: bytes) -> dict[str, str] | None:
    """The query's parameters, the last value of each winning (as the routes read them);
    ``None`` when a parameter is not one of ours or the query is not plain ASCII.

    ``parse_qsl``'s reading (``&``-separated, ``+`` and ``%XX`` unquoted as UTF-8 with
    replacement, blank values kept), minus its per-pair overhead.
    """
    if not raw.isascii():
        return None
    params: dict[str, str] = {}
    for pair in raw.decode("ascii").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if name not in _PARAMETERS:
            return None
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "))
        params[name] = value
    return params


def _headers(scope: Scope) -> dict[bytes, str]:
    """The request headers the reads use; the first of repeated ones (as Starlette)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


class ObjectReadFastPath:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request if it is an object read; ``False`` to let the app serve it."""
        method = scope["method"]
        path: str = scope["path"]
        if method not in _METHODS or not path.startswith(_PREFIX):
            return False
        match = _OBJECTS.match(path)
        if match is None or (match.group(3) and method != "GET"):
            return False
        query = parse_query(scope["query_string"])
        if query is None or not query.get("path"):
            return False  # let the route validate it
        presign = query.get("presign", "false").lower()
        flag = query.get("user_metadata", "true").lower()
        if presign not in _BOOLEANS or flag not in _BOOLEANS:
            return False
        headers = _headers(scope)
        services = self.services
        catalog = services.catalog
        repository, ref, object_path = match.group(1), match.group(2), query["path"]
        try:
            authorization, cookie = headers.get(b"authorization"), headers.get(b"cookie")
            authenticate_headers(services.auth, authorization, cookie)
            if match.group(3):
                reply = await object_reads.run_read(
                    services,
                    object_reads.stat_reply,
                    catalog,
                    repository,
                    ref,
                    object_path,
                    user_metadata=_BOOLEANS[flag],
                )
            elif method == "HEAD":
                reply = await object_reads.run_read(
                    services,
                    object_reads.head_reply,
                    catalog,
                    repository,
                    ref,
                    object_path,
                    headers.get(b"range"),
                )
            else:
                reply = await object_reads.run_read(
                    services,
                    object_reads.get_reply,
                    catalog,
                    repository,
                    ref,
                    object_path,
                    headers.get(b"range"),
                    headers.get(b"if-none-match"),
                )
        except LakeverError as error:
            await error_response(error)(scope, receive, send)
            return True
        await reply.send(scope, receive, send)
        return True
