"""Login (public), the current user, users and their access keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from lakever_server.api import convert
from lakever_server.api.deps import (
    SESSION_COOKIE,
    After,
    Amount,
    AuthDep,
    Prefix,
    ServicesDep,
    UserDep,
    current_user,
    page_size,
)
from lakever_server.api.schemas import LoginInformation, UserCreation

public = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"], dependencies=[Depends(current_user)])


@public.post("/auth/login")
def login(body: LoginInformation, services: ServicesDep, response: Response) -> dict[str, Any]:
    """Exchange an access key pair for a session JWT, also set as a cookie."""
    session = services.auth.login(body.access_key_id, body.secret_access_key)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        expires=services.settings.auth.login_duration_seconds,
        httponly=True,
        samesite="strict",
        secure=services.settings.auth.cookie_secure,
    )
    return {"token": session.token, "token_expiration": session.expires_at}


@public.post("/auth/logout", status_code=204)
async def logout(response: Response) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/user")
async def get_current_user(user: UserDep) -> dict[str, Any]:
    return {"user": convert.user(user)}


@router.post("/auth/users", status_code=201)
def create_user(body: UserCreation, auth: AuthDep, caller: UserDep) -> dict[str, Any]:
    auth.require_admin_or_self(caller, "")
    return convert.user(auth.create_user(body.id))


@router.get("/auth/users/{userId}")
def get_user(userId: str, auth: AuthDep, caller: UserDep) -> dict[str, Any]:
    auth.require_admin_or_self(caller, userId)
    return convert.user(auth.get_user(userId))


@router.post("/auth/users/{userId}/credentials", status_code=201)
def create_credentials(userId: str, auth: AuthDep, caller: UserDep) -> dict[str, Any]:
    """A new key pair; the secret is in this response and never again."""
    auth.require_admin_or_self(caller, userId)
    return convert.credentials_with_secret(auth.create_credentials(userId))


@router.get("/auth/users/{userId}/credentials")
def list_user_credentials(
    userId: str,
    auth: AuthDep,
    caller: UserDep,
    prefix: Prefix = "",
    after: After = "",
    amount: Amount = 100,
) -> dict[str, Any]:
    auth.require_admin_or_self(caller, userId)
    page = auth.list_credentials(userId, prefix=prefix, after=after, amount=page_size(amount))
    return convert.paginated(page, convert.credentials)


@router.get("/auth/users/{userId}/credentials/{accessKeyId}")
def get_credentials(
    userId: str, accessKeyId: str, auth: AuthDep, caller: UserDep
) -> dict[str, Any]:
    auth.require_admin_or_self(caller, userId)
    return convert.credentials(auth.get_credentials(userId, accessKeyId))


@router.delete("/auth/users/{userId}/credentials/{accessKeyId}", status_code=204)
def delete_credentials(userId: str, accessKeyId: str, auth: AuthDep, caller: UserDep) -> Response:
    auth.require_admin_or_self(caller, userId)
    auth.delete_credentials(userId, accessKeyId)
    return Response(status_code=204)
