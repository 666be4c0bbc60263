"""The base schema: one ``kv`` table, as the stores created it before migrations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS kv ("
    " partition TEXT NOT NULL,"
    " key BYTEA NOT NULL,"
    " value BYTEA NOT NULL,"
    " PRIMARY KEY (partition, key)"
    ")"
)
_SQLITE = (
    "CREATE TABLE IF NOT EXISTS kv ("
    " partition TEXT NOT NULL,"
    " key BLOB NOT NULL,"
    " value BLOB NOT NULL,"
    " PRIMARY KEY (partition, key)"
    ") WITHOUT ROWID"
)


def upgrade() -> None:
    op.execute(_POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE)


def downgrade() -> None:
    op.execute("DROP TABLE kv")
