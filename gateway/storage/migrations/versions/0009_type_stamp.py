"""storage: the stamp of the fact-bearing resource types (exact on PostgreSQL too)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = op.create_table(
        "type_stamp",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_type_stamp")),
    )
    op.bulk_insert(stamp, [{"id": 1, "n": 0}])


def downgrade() -> None:
    op.drop_table("type_stamp")
