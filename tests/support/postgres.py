"""A fresh PostgreSQL database per test module, on the server at 127.0.0.1:5432.

Use the fixture from any test module::

    from tests.support.postgres import postgres_url  # noqa: F401  (pytest fixture)

    def test_something(postgres_url: str) -> None: ...

or the plain functions (``create_database`` / ``drop_database``) from a script. Database
names are random, so modules running in parallel (``pytest -n``) never share one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The maintenance database; the local server trusts ``postgres`` without a password."""

CONNECT_TIMEOUT_S = 3


def database_url(name: str, admin_url: str = ADMIN_URL) -> str:
    """The URL of database ``name`` on the server ``admin_url`` points at."""
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def server_unreachable_reason(admin_url: str = ADMIN_URL) -> str | None:
    """Why the server cannot be reached, or ``None`` when it answers."""
    try:
        with psycopg.connect(admin_url, connect_timeout=CONNECT_TIMEOUT_S):
            return None
    except psycopg.OperationalError as error:
        return f"PostgreSQL is unreachable at {admin_url}: {error}".strip()


def create_database(admin_url: str = ADMIN_URL) -> str:
    """Create an empty database ``lakever_<random>`` and return its URL."""
    name = f"lakever_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(name, admin_url)


def drop_database(url: str, admin_url: str = ADMIN_URL) -> None:
    """Drop the database at ``url``, disconnecting whoever still uses it."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A ``postgresql://`` URL of a fresh database, dropped after the module's tests."""
    reason = server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)
