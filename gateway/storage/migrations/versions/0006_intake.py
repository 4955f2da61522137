"""intake: the idempotency ledger and the quarantine of ingestion

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_message",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("structure", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("quarantine_id", sa.String(length=36), nullable=True),
        sa.Column("provenance_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_intake_message")),
    )
    op.create_index(
        op.f("ix_intake_message_source_structure_received"),
        "intake_message",
        ["source", "structure", "received"],
        unique=False,
    )
    op.create_table(
        "intake_quarantine",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("structure", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("issues", sa.LargeBinary(), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_quarantine")),
    )
    op.create_index(
        op.f("ix_intake_quarantine_source_structure_received"),
        "intake_quarantine",
        ["source", "structure", "received"],
        unique=False,
    )
    op.create_index(
        op.f("ix_intake_quarantine_status_received"),
        "intake_quarantine",
        ["status", "received"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_quarantine_status_received"), table_name="intake_quarantine")
    op.drop_index(
        op.f("ix_intake_quarantine_source_structure_received"), table_name="intake_quarantine"
    )
    op.drop_table("intake_quarantine")
    op.drop_index(op.f("ix_intake_message_source_structure_received"), table_name="intake_message")
    op.drop_table("intake_message")
