"""search: canonical-reference versions, canonical UCUM rows, indexes for the search plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_resource_resource_type_pk"), "resource", ["resource_type", "pk"])
    with op.batch_alter_table("idx_reference") as batch:
        batch.add_column(sa.Column("version", sa.Text(), nullable=True))
    with op.batch_alter_table("idx_quantity") as batch:
        batch.add_column(
            sa.Column("canonical", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_resource_resource_type_pk"), table_name="resource")
    with op.batch_alter_table("idx_quantity") as batch:
        batch.drop_column("canonical")
    with op.batch_alter_table("idx_reference") as batch:
        batch.drop_column("version")
