"""crypto: data keys for envelope encryption at rest (issue 9)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_key",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=160), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("shredded", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_data_key")),
        sa.UniqueConstraint("scope", "owner", name=op.f("uq_data_key_scope_owner")),
    )
    op.create_index(op.f("ix_data_key_kek_id"), "data_key", ["kek_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_data_key_kek_id"), table_name="data_key")
    op.drop_table("data_key")
