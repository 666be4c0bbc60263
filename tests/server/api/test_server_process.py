"""The server process: quickstart, graceful stop, restart, first-run setup, secrets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lakever_server.auth import QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY
from tests.support.server import RunningServer, server_command, start_server


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("quickstart"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server started without --quickstart: nobody can log in until setup."""
    server = start_server(tmp_path_factory.mktemp("fresh"), quickstart=False)
    yield server
    server.stop()


def test_quickstart_prints_the_documented_keys_and_accepts_them(
    quickstart: RunningServer,
) -> None:
    assert QUICKSTART_ACCESS_KEY_ID in quickstart.output()
    assert QUICKSTART_SECRET_ACCESS_KEY in quickstart.output()
    with quickstart.http() as http:
        user = http.get("/user")
    assert user.status_code == 200
    assert user.json()["user"]["id"] == "admin"


def test_healthcheck_needs_no_credentials(quickstart: RunningServer) -> None:
    with quickstart.http(auth=False) as http:
        assert http.get("/healthcheck").status_code == 204
        assert http.get("/config").status_code == 401


def test_sigterm_stops_gracefully_and_data_survives_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    with server.http() as http:
        created = http.post(
            "/repositories", json={"name": "survivor", "storage_namespace": "local://survivor"}
        )
        assert created.status_code == 201
    assert server.stop() == 0
    assert "Shutting down" in server.output()
    server.start()
    try:
        with server.http() as http:
            assert http.get("/repositories/survivor").json()["id"] == "survivor"
    finally:
        server.stop()


def test_a_killed_server_restarts_with_its_committed_data(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    with server.http() as http:
        http.post("/repositories", json={"name": "crash", "storage_namespace": "local://crash"})
    server.kill()
    server.start()
    try:
        with server.http() as http:
            assert http.get("/repositories/crash").status_code == 200
    finally:
        server.stop()


def test_without_quickstart_a_server_key_is_required(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    command = server_command(tmp_path, 1, quickstart=False)
    result = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "auth.encrypt.secret_key is required" in result.stderr
    assert sys.executable == command[0]


def test_first_run_setup_creates_the_admin_once(fresh: RunningServer) -> None:
    with fresh.http(auth=False) as http:
        state = http.get("/setup_lakefs").json()
        assert state["state"] == "not_initialized"
        created = http.post("/setup_lakefs", json={"username": "alice"})
        assert created.status_code == 200
        again = http.post("/setup_lakefs", json={"username": "mallory"})
        assert again.status_code == 409
        assert "message" in again.json()
        assert http.get("/setup_lakefs").json()["state"] == "initialized"
    keys = created.json()
    with httpx.Client(
        base_url=fresh.api_url, auth=(keys["access_key_id"], keys["secret_access_key"])
    ) as http:
        assert http.get("/user").json()["user"]["id"] == "alice"


def test_quickstart_keys_do_not_work_on_a_server_set_up_without_them(
    fresh: RunningServer,
) -> None:
    with fresh.http() as http:
        response = http.get("/user")
    assert response.status_code == 401
    assert response.json() == {"message": "invalid credentials"}


def test_login_returns_a_token_and_a_session_cookie(quickstart: RunningServer) -> None:
    with quickstart.http(auth=False) as http:
        login = http.post(
            "/auth/login",
            json={
                "access_key_id": quickstart.access_key_id,
                "secret_access_key": quickstart.secret_access_key,
            },
        )
        assert login.status_code == 200
        token = login.json()["token"]
        assert login.json()["token_expiration"] > 0
        assert "internal_auth_session" in login.cookies
        bearer = http.get("/user", headers={"Authorization": f"Bearer {token}"})
        assert bearer.json()["user"]["id"] == "admin"
        cookie = http.get("/user")  # the client kept the cookie
        assert cookie.status_code == 200
        forged = http.get("/user", headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
        assert forged.status_code == 401


def test_login_with_a_wrong_secret_is_401(quickstart: RunningServer) -> None:
    with quickstart.http(auth=False) as http:
        login = http.post(
            "/auth/login",
            json={"access_key_id": quickstart.access_key_id, "secret_access_key": "wrong"},
        )
    assert login.status_code == 401
    assert login.json()["message"] == "invalid credentials"


def test_credentials_secret_is_returned_once_and_stored_encrypted(
    quickstart: RunningServer,
) -> None:
    with quickstart.http() as http:
        created = http.post("/auth/users/admin/credentials")
        assert created.status_code == 201
        key_id = created.json()["access_key_id"]
        secret = created.json()["secret_access_key"]
        listed = http.get("/auth/users/admin/credentials").json()
        assert key_id in [c["access_key_id"] for c in listed["results"]]
        assert all("secret_access_key" not in c for c in listed["results"])
        fetched = http.get(f"/auth/users/admin/credentials/{key_id}").json()
        assert fetched == {"access_key_id": key_id, "creation_date": fetched["creation_date"]}
        with httpx.Client(base_url=quickstart.api_url, auth=(key_id, secret)) as other:
            assert other.get("/user").status_code == 200
        stored = b"".join(p.read_bytes() for p in quickstart.data_dir.glob("metadata.db*"))
        assert stored
        assert secret.encode() not in stored
        assert QUICKSTART_SECRET_ACCESS_KEY.encode() not in stored
        assert http.delete(f"/auth/users/admin/credentials/{key_id}").status_code == 204
        gone = http.get(f"/auth/users/admin/credentials/{key_id}")
        assert gone.status_code == 404
    assert secret not in quickstart.output()


def test_users_manage_their_own_keys_and_only_the_admin_manages_others(
    quickstart: RunningServer,
) -> None:
    with quickstart.http() as admin:
        assert admin.post("/auth/users", json={"id": "bob"}).status_code == 201
        assert admin.post("/auth/users", json={"id": "bob"}).status_code == 409
        bob_key = admin.post("/auth/users/bob/credentials").json()
    with httpx.Client(
        base_url=quickstart.api_url, auth=(bob_key["access_key_id"], bob_key["secret_access_key"])
    ) as bob:
        assert bob.get("/user").json()["user"]["id"] == "bob"
        assert bob.post("/auth/users/bob/credentials").status_code == 201
        listed = bob.get("/auth/users/bob/credentials").json()["results"]
        assert len(listed) == 2
        denied = bob.post("/auth/users/admin/credentials")
        assert denied.status_code == 403
        assert denied.json()["message"] == "only the administrator can manage other users"
        assert bob.get("/auth/users/admin/credentials").status_code == 403
        assert bob.post("/auth/users", json={"id": "eve"}).status_code == 403
