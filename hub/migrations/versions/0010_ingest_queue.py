"""Acknowledge, then merge behind: the batch's signed body and state, and the merge queue.

Revision ID: 0010_ingest_queue
Revises: 0009_group_corroboration

`report_batches` gains the exact signed body (zlib-compressed), its merge state
(`accepted` → `merged`, with `merged_at`) and the count of its indicators still
waiting; batches stored before this revision were merged inline, so they are
`merged`. `pending_merges` is the queue the merge consumer drains (no foreign
keys: a row must never hold a lock a reporter or the consumer waits on).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0010_ingest_queue"
down_revision = "0009_group_corroboration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_batches") as batch:
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("signed_path", sa.String(256), nullable=True))
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="merged")
        )
        batch.add_column(sa.Column("pending", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("merged_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_report_batches_member_state", "report_batches", ["member_id", "state"]
    )
    op.create_table(
        "pending_merges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(24), nullable=True),
        sa.Column("batch_id", sa.String(24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pending_merges_member_id", "pending_merges", ["member_id", "id"])
    op.create_index("ix_pending_merges_indicator", "pending_merges", ["indicator_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_merges_indicator", table_name="pending_merges")
    op.drop_index("ix_pending_merges_member_id", table_name="pending_merges")
    op.drop_table("pending_merges")
    op.drop_index("ix_report_batches_member_state", table_name="report_batches")
    with op.batch_alter_table("report_batches") as batch:
        batch.drop_column("merged_at")
        batch.drop_column("pending")
        batch.drop_column("state")
        batch.drop_column("signed_path")
        batch.drop_column("body")
