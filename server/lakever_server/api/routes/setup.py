"""First-run setup (public): ``/setup_lakefs`` and ``/setup_comm_prefs``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from lakever_server.api import convert
from lakever_server.api.deps import AuthDep
from lakever_server.api.schemas import CommPrefsInput, Setup

public = APIRouter(tags=["setup"])


@public.get("/setup_lakefs")
async def get_setup_state(auth: AuthDep) -> dict[str, Any]:
    initialized = auth.is_initialized()
    return {
        "state": "initialized" if initialized else "not_initialized",
        "comm_prefs_missing": auth.comm_prefs_missing(),
        "login_config": {"login_failed_message": "The credentials don't match."},
    }


@public.post("/setup_lakefs")
def setup(body: Setup, auth: AuthDep) -> dict[str, Any]:
    """Create the admin user and its first access key; 409 once set up."""
    key = body.key
    credential = auth.setup(
        body.username,
        key.access_key_id if key else None,
        key.secret_access_key if key else None,
    )
    return convert.credentials_with_secret(credential)


@public.post("/setup_comm_prefs", status_code=200)
def setup_comm_prefs(body: CommPrefsInput, auth: AuthDep) -> Response:
    auth.set_comm_prefs(body.model_dump())
    return Response(status_code=200)
