"""intake: the professional who sent a quarantine entry (its owner, with client and structure)

A vendor client carries many professionals of one structure with different rights; the
quarantine desk scoped entries by client and structure only, so any of them read,
replayed and discarded the others' payloads. ``subject`` is the sending professional's
idNat_PS; NULL for a system sender.

Rows from before this revision keep ``subject`` NULL: who sent them is unknown, so they
count as the system sender's of their client and structure (who could read them all
already) and no professional sees them any more (an admin still lists their metadata and
may discard them). A professional who needs one back sends its payload again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_quarantine") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_quarantine") as batch:
        batch.drop_column("subject")
