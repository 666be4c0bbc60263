"""``AuthService``: first-run setup, users, access keys, sessions and authentication.

Records live in the metadata store's ``auth`` partition as JSON:

- ``user/<id>``: a ``User``;
- ``cred/<access key id>``: the owner, creation date and the Fernet-encrypted secret;
- ``user_cred/<user id>/<access key id>``: index for listing a user's keys;
- ``setup/initialized``, ``setup/comm_prefs``: first-run state.

Verified credentials are cached for ``credential_cache_seconds`` so the hot path (every
request) decrypts nothing; a deleted key stops working when its cache entry expires, at
once on the replica that deleted it, and at once everywhere when the setting is 0.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Iterator
from typing import Any

from lakever_server.auth.models import Credential, SessionToken, User
from lakever_server.auth.secrets import SecretBox, TokenSigner
from lakever_server.catalog.models import Page
from lakever_server.errors import (
    AlreadyExists,
    Forbidden,
    InvalidValue,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from lakever_server.storage.kv import KVStore, prefix_end

PARTITION = "auth"
QUICKSTART_USER = "admin"
QUICKSTART_ACCESS_KEY_ID = "AKIAIOSFOLQUICKSTART"
QUICKSTART_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
QUICKSTART_RACE_WAIT_S = 10.0

MAX_CACHED = 10_000
"""Entries per cache (credentials, verified headers); a full cache is emptied."""

_USER_ID = re.compile(r"^[\w@.+=,-]{1,128}$")
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")


def _now() -> int:
    return int(time.time())


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def parse_basic_credentials(value: str) -> tuple[str, str]:
    """``(access key id, secret)`` from the base64 part of a Basic ``Authorization``."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise Unauthorized("malformed basic credentials") from err
    key_id, sep, secret = decoded.partition(":")
    if not sep or not key_id:
        raise Unauthorized("malformed basic credentials")
    return key_id, secret


def _generate_access_key_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIAJ" + "".join(secrets.choice(alphabet) for _ in range(15))


def _generate_secret() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


class AuthService:
    """Users and credentials over a ``KVStore``; see the module docstring for the layout."""

    def __init__(
        self,
        kv: KVStore,
        secret_key: str,
        *,
        session_ttl_seconds: int = 7 * 24 * 3600,
        cache_seconds: float = 5.0,
    ) -> None:
        self._kv = kv
        self._box = SecretBox(secret_key)
        self.signer = TokenSigner(secret_key)
        self._session_ttl = session_ttl_seconds
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Credential | None]] = {}
        self._user_cache: dict[str, tuple[float, User | None]] = {}
        # SHA-256 of a Basic header value that verified -> (expiry, access key id, user).
        # Keyed by a digest so no secret is held in a key; only successes are kept, so a
        # wrong secret is checked against the stored one every time.
        self._verified: dict[bytes, tuple[float, str, User]] = {}
        self._lock = threading.Lock()

    # -- setup --------------------------------------------------------------------------
    def is_initialized(self) -> bool:
        return self._kv.get(PARTITION, b"setup/initialized") is not None

    def comm_prefs_missing(self) -> bool:
        return self._kv.get(PARTITION, b"setup/comm_prefs") is None

    def set_comm_prefs(self, prefs: dict[str, Any]) -> None:
        self._kv.set(PARTITION, b"setup/comm_prefs", _json(prefs))

    def setup(
        self,
        username: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> Credential:
        """First-run setup: the admin user and its first key. ``Conflict`` once done."""
        if self.is_initialized():
            raise AlreadyExists("lakever is already initialized", kind="setup")
        if (access_key_id is None) != (secret_access_key is None):
            raise InvalidValue("give both access_key_id and secret_access_key, or neither")
        self.create_user(username)
        credential = self.create_credentials(username, access_key_id, secret_access_key)
        self._kv.set(PARTITION, b"setup/initialized", _json({"at": _now(), "admin": username}))
        return credential

    def ensure_quickstart_admin(self) -> Credential:
        """Create (once) the ``admin`` user with lakeFS's documented quickstart keys.

        Replicas starting together on one metadata store may race here: the loser waits
        for the winner's key instead of failing.
        """
        existing = self.lookup_credential(QUICKSTART_ACCESS_KEY_ID, use_cache=False)
        if existing is not None:
            return existing
        if self.is_initialized():
            raise InvalidValue("the server was set up without quickstart; start it without it")
        try:
            return self.setup(
                QUICKSTART_USER, QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY
            )
        except AlreadyExists:
            deadline = time.monotonic() + QUICKSTART_RACE_WAIT_S
            while time.monotonic() < deadline:
                existing = self.lookup_credential(QUICKSTART_ACCESS_KEY_ID, use_cache=False)
                if existing is not None:
                    return existing
                time.sleep(0.05)
            raise

    def admin_id(self) -> str | None:
        """The user created by first-run setup (or quickstart): the one administrator."""
        raw = self._kv.get(PARTITION, b"setup/initialized")
        return str(json.loads(raw)["admin"]) if raw is not None else None

    def require_admin_or_self(self, caller: User, user_id: str) -> None:
        """Users manage their own keys; only the administrator manages other users."""
        if caller.id != user_id and caller.id != self.admin_id():
            raise Forbidden("only the administrator can manage other users")

    # -- users --------------------------------------------------------------------------
    def create_user(
        self, user_id: str, *, email: str | None = None, friendly_name: str | None = None
    ) -> User:
        if not _USER_ID.match(user_id):
            raise InvalidValue(f"invalid user id {user_id!r}", field="username")
        user = User(id=user_id, creation_date=_now(), email=email, friendly_name=friendly_name)
        with self._lock:
            self._user_cache.pop(user_id, None)
        record = {"id": user.id, "creation_date": user.creation_date, "email": email}
        record["friendly_name"] = friendly_name
        try:
            self._kv.set_if(PARTITION, f"user/{user_id}".encode(), _json(record), None)
        except PreconditionFailed as err:
            raise AlreadyExists(f"user {user_id} exists", kind="user", name=user_id) from err
        return user

    def get_user(self, user_id: str) -> User:
        raw = self._kv.get(PARTITION, f"user/{user_id}".encode())
        if raw is None:
            raise NotFound(f"user {user_id} not found", kind="user", name=user_id)
        record = json.loads(raw)
        return User(
            id=record["id"],
            creation_date=record["creation_date"],
            email=record.get("email"),
            friendly_name=record.get("friendly_name"),
        )

    def _cached_user(self, user_id: str) -> User | None:
        now = time.monotonic()
        with self._lock:
            hit = self._user_cache.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            user: User | None = self.get_user(user_id)
        except NotFound:
            user = None
        with self._lock:
            self._user_cache[user_id] = (now + self._cache_seconds, user)
        return user

    # -- credentials --------------------------------------------------------------------
    def create_credentials(
        self,
        user_id: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> Credential:
        """A new key pair for ``user_id``; the only time the secret is returned."""
        self.get_user(user_id)
        key_id = access_key_id or _generate_access_key_id()
        secret = secret_access_key or _generate_secret()
        if not _ACCESS_KEY_ID.match(key_id):
            raise InvalidValue("invalid access key id", field="access_key_id")
        if not 8 <= len(secret) <= 256:
            raise InvalidValue("invalid secret access key", field="secret_access_key")
        created = _now()
        record = {
            "user_id": user_id,
            "creation_date": created,
            "secret": self._box.encrypt(secret).decode(),
        }
        key = f"cred/{key_id}".encode()
        try:
            self._kv.set_if(PARTITION, key, _json(record), None)
        except PreconditionFailed as err:
            raise AlreadyExists("access key exists", kind="credentials", name=key_id) from err
        self._kv.set(PARTITION, f"user_cred/{user_id}/{key_id}".encode(), str(created).encode())
        with self._lock:
            self._cache.pop(key_id, None)  # may hold "no such key" from a lookup
        return Credential(key_id, secret, user_id, created)

    def lookup_credential(self, access_key_id: str, *, use_cache: bool = True) -> Credential | None:
        """The key pair (secret decrypted) of ``access_key_id``, or ``None``."""
        now = time.monotonic()
        if use_cache:
            with self._lock:
                hit = self._cache.get(access_key_id)
            if hit is not None and hit[0] > now:
                return hit[1]
        raw = self._kv.get(PARTITION, f"cred/{access_key_id}".encode())
        credential = None
        if raw is not None:
            record = json.loads(raw)
            secret = self._box.decrypt(record["secret"].encode())
            credential = Credential(
                access_key_id, secret, record["user_id"], record["creation_date"]
            )
        with self._lock:
            if len(self._cache) > MAX_CACHED:
                self._cache.clear()
            self._cache[access_key_id] = (now + self._cache_seconds, credential)
        return credential

    def get_credentials(self, user_id: str, access_key_id: str) -> Credential:
        credential = self.lookup_credential(access_key_id, use_cache=False)
        if credential is None or credential.user_id != user_id:
            raise NotFound("credentials not found", kind="credentials", name=access_key_id)
        return credential

    def list_credentials(
        self, user_id: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> Page[Credential]:
        self.get_user(user_id)
        base = f"user_cred/{user_id}/".encode()
        results: list[Credential] = []
        for key, _ in self._scan_after(base, prefix, after, amount + 1):
            credential = self.lookup_credential(key[len(base) :].decode(), use_cache=False)
            if credential is not None:
                results.append(credential)
        has_more = len(results) > amount
        results = results[:amount]
        return Page(results, has_more, results[-1].access_key_id if has_more else "")

    def _scan_after(
        self, base: bytes, prefix: str, after: str, limit: int
    ) -> Iterator[tuple[bytes, bytes]]:
        start = base + prefix.encode()
        end = prefix_end(start)
        if after and base + after.encode() >= start:
            start = base + after.encode() + b"\x00"
        return self._kv.scan(PARTITION, start, end, limit=limit)

    def delete_credentials(self, user_id: str, access_key_id: str) -> None:
        self.get_credentials(user_id, access_key_id)
        self._kv.delete(PARTITION, f"cred/{access_key_id}".encode())
        self._kv.delete(PARTITION, f"user_cred/{user_id}/{access_key_id}".encode())
        with self._lock:
            self._cache.pop(access_key_id, None)
            for digest in [d for d, hit in self._verified.items() if hit[1] == access_key_id]:
                del self._verified[digest]

    # -- authentication -----------------------------------------------------------------
    def authenticate_key(self, access_key_id: str, secret_access_key: str) -> User:
        """The owner of a matching key pair; ``Unauthorized`` otherwise."""
        credential = self.lookup_credential(access_key_id)
        if credential is None or not hmac.compare_digest(
            credential.secret_access_key.encode(), secret_access_key.encode()
        ):
            raise Unauthorized("invalid credentials")
        return self._active_user(credential.user_id)

    def authenticate_basic(self, value: str) -> User:
        """The owner of the key pair in a Basic ``Authorization`` value (base64 of
        ``key:secret``); ``Unauthorized`` otherwise.

        A value that verified is remembered for ``credential_cache_seconds`` (never when
        that is 0): repeating it costs a hash and a lookup, not a decode, a key lookup
        and a constant-time compare. The staleness is the credential cache's own.
        """
        digest = hashlib.sha256(value.encode()).digest()
        now = time.monotonic()
        hit = self._verified.get(digest)
        if hit is not None and hit[0] > now:
            return hit[2]
        key_id, secret = parse_basic_credentials(value)
        user = self.authenticate_key(key_id, secret)
        if self._cache_seconds > 0:
            with self._lock:
                if len(self._verified) > MAX_CACHED:
                    self._verified.clear()
                self._verified[digest] = (now + self._cache_seconds, key_id, user)
        return user

    def authenticate_token(self, token: str) -> User:
        return self._active_user(self.signer.verify_session(token))

    def _active_user(self, user_id: str) -> User:
        user = self._cached_user(user_id)
        if user is None:
            raise Unauthorized("user no longer exists")
        return user

    def login(self, access_key_id: str, secret_access_key: str) -> SessionToken:
        user = self.authenticate_key(access_key_id, secret_access_key)
        token, expires = self.signer.issue_session(user.id, self._session_ttl)
        return SessionToken(token, expires)
