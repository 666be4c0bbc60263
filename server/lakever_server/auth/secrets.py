"""Encryption of secrets at rest and signing of session tokens and link tokens.

One configured key (``auth.encrypt.secret_key``) is stretched into independent subkeys
with HMAC-SHA256, so a leaked session token says nothing about the encryption key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import jwt
from cryptography.fernet import Fernet, InvalidToken

from lakever_server.errors import InvalidValue, Unauthorized

_ISSUER = "lakever"


def _subkey(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def generate_secret_key() -> str:
    """A fresh random server key (for the quickstart data directory)."""
    return secrets.token_urlsafe(48)


class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC) of stored secret keys."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_subkey(secret_key, "secrets-at-rest")))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as err:
            # Stored with another server key: the configuration changed under the data.
            raise Unauthorized("stored credential cannot be decrypted with this key") from err


class TokenSigner:
    """Session JWTs (HS256) and HMAC tokens proving the server handed out a value."""

    def __init__(self, secret_key: str) -> None:
        self._jwt_key = _subkey(secret_key, "session-jwt")
        self._link_key = _subkey(secret_key, "link-address")

    def issue_session(self, user_id: str, ttl_seconds: int) -> tuple[str, int]:
        now = int(time.time())
        expires = now + ttl_seconds
        claims = {"sub": user_id, "iat": now, "exp": expires, "iss": _ISSUER}
        return jwt.encode(claims, self._jwt_key, algorithm="HS256"), expires

    def verify_session(self, token: str) -> str:
        """The user id of a valid, unexpired token; ``Unauthorized`` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._jwt_key,
                algorithms=["HS256"],
                issuer=_ISSUER,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.PyJWTError as err:
            raise Unauthorized("invalid or expired token") from err
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("invalid token")
        return subject

    def sign_value(self, value: str, ttl_seconds: int) -> str:
        """``<expiry>.<mac>`` over ``value``: a stateless, expiring proof of issuance."""
        expires = int(time.time()) + ttl_seconds
        mac = hmac.new(self._link_key, f"{expires}:{value}".encode(), hashlib.sha256)
        return f"{expires}.{mac.hexdigest()[:32]}"

    def verify_value(self, value: str, token: str) -> None:
        """``InvalidValue`` unless ``token`` was issued for ``value`` and has not expired."""
        expires_text, _, mac_text = token.partition(".")
        if not expires_text.isdigit() or not mac_text:
            raise InvalidValue("malformed address token", field="physical_address")
        mac = hmac.new(self._link_key, f"{expires_text}:{value}".encode(), hashlib.sha256)
        if not hmac.compare_digest(mac.hexdigest()[:32], mac_text):
            raise InvalidValue("address was not issued by this server", field="physical_address")
        if int(expires_text) < time.time():
            raise InvalidValue("address token expired", field="physical_address")
