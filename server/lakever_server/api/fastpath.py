"""The object-read fast path: stat, get and head without the framework's per-request
routing and dependency resolution.

Readers issue these by the thousand (listing then probing every file), and on a small
machine FastAPI's per-request work costs more than the catalog lookup itself. The fast
path authenticates exactly like the routes (``deps.authenticate``), calls the same
``object_reads`` functions and maps errors with the same ``errors.error_response``;
the FastAPI routes remain the documented (OpenAPI) definition of these endpoints and
serve any request the fast path does not recognise.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from lakever_server.api import object_reads
from lakever_server.api.deps import authenticate
from lakever_server.api.errors import error_response
from lakever_server.errors import InvalidValue, LakeverError
from lakever_server.services import Services

_OBJECTS = re.compile(r"^/api/v1/repositories/([^/]+)/refs/([^/]+)/objects(/stat)?$")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class ObjectReadFastPath:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request if it is an object read; ``False`` to let the app serve it."""
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            return False
        match = _OBJECTS.match(scope["path"])
        if match is None or (match.group(3) and method != "GET"):
            return False
        query = parse_qs(scope["query_string"].decode(), keep_blank_values=True)
        if set(query) - {"path", "presign", "user_metadata"}:
            return False  # unusual parameters: let the route validate them
        request = Request(scope, receive)
        try:
            authenticate(self.services.auth, request)
            response = await object_reads.run_read(
                self.services, self._respond, request, match, query
            )
        except LakeverError as error:
            response = error_response(error)
        await response(scope, receive, send)
        return True

    def _respond(
        self, request: Request, match: re.Match[str], query: dict[str, list[str]]
    ) -> Response:
        repository, ref, stat = match.group(1), match.group(2), match.group(3)
        paths = query.get("path")
        if not paths:
            raise InvalidValue("invalid request: path: Field required", field="path")
        catalog = self.services.catalog
        if stat:
            flag = query.get("user_metadata", ["true"])[-1].lower()
            if flag not in _BOOLEANS:
                raise InvalidValue("invalid request: user_metadata: not a boolean")
            body = object_reads.stat_body(
                catalog, repository, ref, paths[-1], user_metadata=_BOOLEANS[flag]
            )
            return JSONResponse(body)
        range_header = request.headers.get("range")
        if request.method == "HEAD":
            return object_reads.head_response(catalog, repository, ref, paths[-1], range_header)
        return object_reads.get_response(
            catalog, repository, ref, paths[-1], range_header, request.headers.get("if-none-match")
        )
