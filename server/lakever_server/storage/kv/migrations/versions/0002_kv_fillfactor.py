"""PostgreSQL: leave room in each page of ``kv`` for in-place (HOT) updates.

Branch heads and staging entries are rewritten far more often than they are created; at
the default fill factor of 100 every update moves the row to another page and writes
the primary-key index again. At 80, most updates stay on the page (a heap-only tuple),
so a commit's compare-and-set of the head writes no index entry. Existing pages take the
setting as they are rewritten. SQLite has no such setting: nothing to do there.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FILLFACTOR = 80


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE kv SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE kv RESET (fillfactor)")
