"""access: authorship columns and the token replay table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_AUTHORSHIP = ("author", "author_structure", "created")


def upgrade() -> None:
    for table in ("resource", "resource_history"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("author", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("author_structure", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("created", sa.BigInteger(), nullable=True))
    op.create_table(
        "token_jti",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_token_jti")),
    )
    op.create_index(op.f("ix_token_jti_expires"), "token_jti", ["expires"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_token_jti_expires"), table_name="token_jti")
    op.drop_table("token_jti")
    for table in ("resource_history", "resource"):
        with op.batch_alter_table(table) as batch:
            for column in reversed(_AUTHORSHIP):
                batch.drop_column(column)
