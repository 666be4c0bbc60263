"""``AuthService`` in process: keys encrypted at rest, sessions, setup races."""

from __future__ import annotations

import threading

import pytest

from lakever_server.auth import (
    QUICKSTART_ACCESS_KEY_ID,
    QUICKSTART_SECRET_ACCESS_KEY,
    AuthService,
    Credential,
)
from lakever_server.errors import AlreadyExists, InvalidValue, Unauthorized
from lakever_server.storage.kv.memory import MemoryKV

KEY = "server-key-for-auth-tests"


def test_secrets_are_encrypted_at_rest_and_hidden_from_repr() -> None:
    kv = MemoryKV()
    auth = AuthService(kv, KEY)
    auth.setup("admin", "AKIAEXAMPLEEXAMPLE01", "a-secret-that-must-not-leak")
    stored = b"".join(value for _, value in kv.scan("auth"))
    assert b"a-secret-that-must-not-leak" not in stored
    credential = auth.lookup_credential("AKIAEXAMPLEEXAMPLE01")
    assert isinstance(credential, Credential)
    assert credential.secret_access_key == "a-secret-that-must-not-leak"
    assert "a-secret-that-must-not-leak" not in repr(credential)


def test_another_server_key_cannot_read_the_stored_secrets() -> None:
    kv = MemoryKV()
    AuthService(kv, KEY).setup("admin", "AKIAEXAMPLEEXAMPLE01", "a-secret-value")
    with pytest.raises(Unauthorized, match="cannot be decrypted"):
        AuthService(kv, "a-different-key").lookup_credential("AKIAEXAMPLEEXAMPLE01")


def test_a_deleted_key_stops_authenticating() -> None:
    auth = AuthService(MemoryKV(), KEY, cache_seconds=0)
    credential = auth.setup("admin")
    assert auth.authenticate_key(credential.access_key_id, credential.secret_access_key)
    auth.delete_credentials("admin", credential.access_key_id)
    with pytest.raises(Unauthorized):
        auth.authenticate_key(credential.access_key_id, credential.secret_access_key)


def test_session_tokens_are_signed_and_expire() -> None:
    auth = AuthService(MemoryKV(), KEY, session_ttl_seconds=3600)
    credential = auth.setup("admin")
    session = auth.login(credential.access_key_id, credential.secret_access_key)
    assert auth.authenticate_token(session.token).id == "admin"
    with pytest.raises(Unauthorized):
        AuthService(MemoryKV(), "other-key").authenticate_token(session.token)
    expired, _ = auth.signer.issue_session("admin", -10)
    with pytest.raises(Unauthorized, match="expired"):
        auth.authenticate_token(expired)


def test_setup_happens_once() -> None:
    auth = AuthService(MemoryKV(), KEY)
    auth.setup("admin")
    with pytest.raises(AlreadyExists):
        auth.setup("someone-else")


def test_quickstart_refuses_a_store_set_up_without_it() -> None:
    auth = AuthService(MemoryKV(), KEY)
    auth.setup("alice")
    with pytest.raises(InvalidValue, match="without quickstart"):
        auth.ensure_quickstart_admin()


def _boot_replicas_together(count: int) -> list[Credential | BaseException]:
    kv = MemoryKV()
    replicas = [AuthService(kv, KEY) for _ in range(count)]
    start = threading.Barrier(count)
    results: list[Credential | BaseException] = []

    def boot(auth: AuthService) -> None:
        start.wait()
        try:
            results.append(auth.ensure_quickstart_admin())
        except BaseException as error:  # collected, asserted by the caller
            results.append(error)

    threads = [threading.Thread(target=boot, args=(auth,)) for auth in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("attempt", range(5))
def test_replicas_starting_together_all_get_the_quickstart_key(attempt: int) -> None:
    results = _boot_replicas_together(8)
    assert all(isinstance(r, Credential) for r in results), results
    assert {r.access_key_id for r in results if isinstance(r, Credential)} == {
        QUICKSTART_ACCESS_KEY_ID
    }
    secrets = {r.secret_access_key for r in results if isinstance(r, Credential)}
    assert secrets == {QUICKSTART_SECRET_ACCESS_KEY}
