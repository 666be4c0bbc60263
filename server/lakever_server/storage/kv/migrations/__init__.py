"""Schema migrations of the SQL metadata stores (SQLite and PostgreSQL), with Alembic.

``upgrade(url)`` brings a store's schema to the newest revision; ``lakever-server
migrate`` and, unless ``metadata.migrate_on_start`` is off, every server start call it.
Revisions live in ``versions/`` and are plain SQL per dialect: the store modules issue
raw SQL too, and the schema is one table.

Revision ``0001`` is the schema the stores created before migrations existed
(``CREATE TABLE IF NOT EXISTS kv ...``), so upgrading a store from then just records it;
the store classes still create that base table themselves, so a store opened without
migrations (tests, ``memory://``) works, and every later change is a revision here.

Replicas may start together: on PostgreSQL the upgrade holds a transaction-scoped
advisory lock, so one replica migrates while the others wait and then find nothing to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from lakever_server.errors import InvalidValue

SCRIPT_LOCATION = Path(__file__).resolve().parent


def sqlalchemy_url(url: str) -> str | None:
    """The SQLAlchemy URL of a metadata store URL; ``None`` for stores without schema."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidValue(f"not a metadata store URL: {url!r}", field="url")
    if scheme == "memory":
        return None
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise InvalidValue(f"unsupported metadata store {scheme!r}", field="url")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # ``%`` is interpolation syntax in Alembic's config parser (passwords may hold one).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> str | None:
    """Upgrade the store at ``url`` to ``revision``; the revision it is at afterwards."""
    engine_url = sqlalchemy_url(url)
    if engine_url is None:
        return None
    command.upgrade(alembic_config(engine_url), revision)
    return current_revision(url)


def current_revision(url: str) -> str | None:
    """The revision the store at ``url`` is at (``None``: never migrated)."""
    engine_url = sqlalchemy_url(url)
    if engine_url is None:
        return None
    engine = create_engine(engine_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()
    assert head is not None
    return head
