"""sync: the patients whose data each exported file holds

An exported NDJSON file is downloaded after the export ran, possibly long after: the
access rules are checked again at download (a patient may have blocked the professional
since, a resident may have left the EHPAD, the token may be about another patient), and
the download is audited with those patients as entities, so that it shows in each
patient's access log. ``patients`` is their ids, space-separated, sorted.

Files written before this revision have NULL: their patients are unknown, so they can
no longer be downloaded (the caller starts a new export).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_export_file") as batch:
        batch.add_column(sa.Column("patients", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_export_file") as batch:
        batch.drop_column("patients")
