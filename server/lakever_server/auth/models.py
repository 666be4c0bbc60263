"""The records of the auth service."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    id: str
    creation_date: int
    email: str | None = None
    friendly_name: str | None = None


@dataclass(frozen=True)
class Credential:
    """An access key pair. The secret is only decrypted in memory, never shown in logs."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    user_id: str
    creation_date: int = 0


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: int
