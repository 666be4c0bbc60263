"""OAuth2 for WebHDFS, as Hadoop's built-in token providers speak it.

Hadoop's ``ConfCredentialBasedAccessTokenProvider`` posts
``grant_type=client_credentials&client_id=...&client_secret=...`` to
``dfs.webhdfs.oauth2.refresh.url`` and sends ``Authorization: Bearer <access_token>`` on
every WebHDFS request. The client id and secret are a lakever access key pair; the token
is a lakever session token, so no extra JAR or plugin is needed on the cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from lakever_server import errors
from lakever_server.webhdfs.responses import HadoopJSONResponse

T = TypeVar("T")
TOKEN_PATH = "/webhdfs/oauth2/token"
MAX_FORM = 64 * 1024


def _oauth_error(code: str, description: str, status: int) -> HadoopJSONResponse:
    return HadoopJSONResponse({"error": code, "error_description": description}, status_code=status)


def _login(auth: Any, client_id: str, client_secret: str) -> Any:
    try:
        return auth.login(client_id, client_secret)
    except errors.Unauthorized:
        # The auth cache remembers misses; a key created moments ago deserves one fresh look.
        if auth.lookup_credential(client_id, use_cache=False) is None:
            raise
        return auth.login(client_id, client_secret)


async def token_endpoint(request: Request, services: Any) -> Response:
    """``POST /webhdfs/oauth2/token`` (RFC 6749 client credentials grant)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return _oauth_error("invalid_request", "the form is too large", 400)
    form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "use grant_type=client_credentials", 400)
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not client_secret:
        return _oauth_error("invalid_client", "client_id and client_secret are required", 401)
    try:
        session = await run_in_threadpool(_login, services.auth, client_id, client_secret)
    except errors.Unauthorized:
        return _oauth_error("invalid_client", "invalid client credentials", 401)
    expires_in = max(int(session.expires_at - time.time()), 1)
    return HadoopJSONResponse(
        {"access_token": session.token, "token_type": "Bearer", "expires_in": expires_in},
        headers={"Cache-Control": "no-store"},
    )


def bearer_user(request: Request, services: Any) -> str:
    """The user id a request's bearer token belongs to; ``Unauthorized`` otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("WebHDFS requests need an OAuth2 bearer token")
    user = services.auth.authenticate_token(token.strip())
    return str(user.id)


class Caller:
    """Who sent a WebHDFS request, established once per request.

    Checking the token goes to a worker thread (a user missing from the cache is a
    metadata read). ``call`` runs the check and the operation's own work in the same
    hop, so a request pays one hand-over between threads instead of two. The dispatcher
    awaits ``authenticate`` whatever the operation did, so every answer, errors
    included, goes to an authenticated caller, and ``Unauthorized`` wins over any other
    error, as when the check ran first.
    """

    def __init__(self, check: Callable[[], str]) -> None:
        self._check = check
        self._user: str | None = None

    @property
    def user(self) -> str:
        if self._user is None:
            raise RuntimeError("the WebHDFS caller is not authenticated yet")
        return self._user

    def _authenticate_here(self) -> str:
        if self._user is None:
            self._user = self._check()
        return self._user

    async def authenticate(self) -> str:
        if self._user is None:
            await run_in_threadpool(self._authenticate_here)
        return self.user

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread, once the caller is authenticated."""

        def authenticated() -> T:
            self._authenticate_here()
            return fn(*args, **kwargs)

        return await run_in_threadpool(authenticated)
