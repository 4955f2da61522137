"""audit log: entries, patients, Merkle nodes, head, checkpoints, keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("recorded", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("interaction", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=1), nullable=False),
        sa.Column("outcome", sa.SmallInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("structure", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entry_agent_recorded"), ["agent", "recorded"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entry_structure_recorded"),
            ["structure", "recorded"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_audit_entry_recorded"), ["recorded"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_entry_purpose_recorded"), ["purpose", "recorded"], unique=False
        )

    op.create_table(
        "audit_patient",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "seq", name=op.f("pk_audit_patient")),
    )
    op.create_table(
        "audit_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_node")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("peaks", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoint")),
    )
    op.create_table(
        "audit_key",
        sa.Column("vkey", sa.String(length=300), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("vkey", name=op.f("pk_audit_key")),
    )


def downgrade() -> None:
    op.drop_table("audit_key")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_head")
    op.drop_table("audit_node")
    op.drop_table("audit_patient")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_purpose_recorded"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_recorded"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_structure_recorded"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_agent_recorded"))
    op.drop_table("audit_entry")
