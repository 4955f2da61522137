"""sync: change-feed transaction ids, delivery queue, export jobs, patient notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

On PostgreSQL a statement trigger records the writing transaction of every history row
in ``sync_history_tx`` (see gateway/sync/README.md, "the feed window"). Rows written
before this migration get transaction id 0: visible in every snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION sync_record_history_tx() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_history_tx (seq, txid)
    SELECT seq, pg_current_xact_id()::text::bigint FROM sync_new_rows;
    RETURN NULL;
END
$$
"""
_TRIGGER = """
CREATE TRIGGER sync_history_tx_after_insert
AFTER INSERT ON resource_history
REFERENCING NEW TABLE AS sync_new_rows
FOR EACH STATEMENT EXECUTE FUNCTION sync_record_history_tx()
"""


def upgrade() -> None:
    op.create_table(
        "sync_history_tx",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_history_tx")),
    )
    op.create_index(op.f("ix_sync_history_tx_txid"), "sync_history_tx", ["txid"])
    op.create_table(
        "sync_checkpoint",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_checkpoint")),
    )
    op.create_table(
        "sync_delivery",
        sa.Column("pk", BigId, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_sync_delivery")),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name=op.f("uq_sync_delivery_subscription_id_event_id")
        ),
    )
    op.create_index(op.f("ix_sync_delivery_state_due"), "sync_delivery", ["state", "due"])
    op.create_table(
        "sync_export_job",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("types", sa.Text(), nullable=True),
        sa.Column("since", sa.BigInteger(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.String(length=200), nullable=True),
        sa.Column("transaction_time", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_export_job")),
    )
    op.create_index(
        op.f("ix_sync_export_job_state_lease_until"), "sync_export_job", ["state", "lease_until"]
    )
    op.create_table(
        "sync_export_file",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["sync_export_job.id"],
            name=op.f("fk_sync_export_file_job_id_sync_export_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "name", name=op.f("pk_sync_export_file")),
    )
    op.create_table(
        "sync_notice",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_notice")),
    )
    op.create_table(
        "sync_announcement",
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name=op.f("pk_sync_announcement")),
    )
    op.create_index(op.f("ix_sync_announcement_state_due"), "sync_announcement", ["state", "due"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO sync_history_tx (seq, txid) SELECT seq, 0 FROM resource_history")
        op.execute(_TRIGGER_FUNCTION)
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sync_history_tx_after_insert ON resource_history")
        op.execute("DROP FUNCTION IF EXISTS sync_record_history_tx()")
    op.drop_index(op.f("ix_sync_announcement_state_due"), table_name="sync_announcement")
    op.drop_table("sync_announcement")
    op.drop_table("sync_notice")
    op.drop_table("sync_export_file")
    op.drop_index(op.f("ix_sync_export_job_state_lease_until"), table_name="sync_export_job")
    op.drop_table("sync_export_job")
    op.drop_index(op.f("ix_sync_delivery_state_due"), table_name="sync_delivery")
    op.drop_table("sync_delivery")
    op.drop_table("sync_checkpoint")
    op.drop_index(op.f("ix_sync_history_tx_txid"), table_name="sync_history_tx")
    op.drop_table("sync_history_tx")
