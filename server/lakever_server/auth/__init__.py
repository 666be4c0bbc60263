"""Users, access keys and session tokens, kept in the metadata store's ``auth`` partition.

- ``models``: ``User`` and ``Credential`` (the secret never shows in a ``repr``).
- ``secrets``: encryption of secret access keys at rest and the session-token signer,
  both keyed from ``auth.encrypt.secret_key``.
- ``service``: ``AuthService``: setup, users, credentials, login and request
  authentication. The S3 gateway verifies signatures with ``lookup_credential``.
"""

from __future__ import annotations

from lakever_server.auth.models import Credential, User
from lakever_server.auth.service import (
    QUICKSTART_ACCESS_KEY_ID,
    QUICKSTART_SECRET_ACCESS_KEY,
    AuthService,
)

__all__ = [
    "QUICKSTART_ACCESS_KEY_ID",
    "QUICKSTART_SECRET_ACCESS_KEY",
    "AuthService",
    "Credential",
    "User",
]
