"""Consensus integrity (issue 13): feed keys identify phone indicators, admin allowlist
entries carry their own epoch, consensus-allowlist conflicts wait for an admin,
disputes carry evidence and members a dispute standing.

Existing phone indicators get `feed_key` = the first 16 hex of their value; if a
database already holds two values sharing a feed key (only possible through the
collision attack this revision closes), the oldest keeps it and the later ones
get none, so they never reach a phone feed. Admin allowlist entries take the
epoch their indicator was stored under, which was the only epoch known until now.

Revision ID: 0005_consensus_integrity
Revises: 0004_allowlist_numbers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0005_consensus_integrity"
down_revision = "0004_allowlist_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("indicators", sa.Column("feed_key", sa.String(16), nullable=True))
    op.execute(
        "UPDATE indicators SET feed_key = substr(value, 1, 16) WHERE kind = 'phone' AND id IN "
        "(SELECT MIN(id) FROM indicators WHERE kind = 'phone' GROUP BY substr(value, 1, 16))"
    )
    op.create_index("uq_indicators_feed_key", "indicators", ["feed_key"], unique=True)
    op.add_column(
        "listings",
        sa.Column("conflict", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("admin_allowlist", sa.Column("key_epoch", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE admin_allowlist SET key_epoch = (SELECT key_epoch FROM indicators "
        "WHERE indicators.id = admin_allowlist.indicator_id)"
    )
    op.add_column(
        "disputes", sa.Column("evidence", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "member_standing",
        sa.Column("dispute_weight", sa.Float(), nullable=False, server_default="1.0"),
    )
    op.add_column(
        "member_standing",
        sa.Column("dismissed_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "allowlist_conflict_decisions",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("indicator_id", name="pk_allowlist_conflict_decisions"),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], ondelete="CASCADE",
            name="fk_allowlist_conflict_decisions_indicator_id_indicators",
        ),
    )


def downgrade() -> None:
    op.drop_table("allowlist_conflict_decisions")
    with op.batch_alter_table("member_standing") as batch:
        batch.drop_column("dismissed_count")
        batch.drop_column("dispute_weight")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("evidence")
    with op.batch_alter_table("admin_allowlist") as batch:
        batch.drop_column("key_epoch")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("conflict")
    op.drop_index("uq_indicators_feed_key", table_name="indicators")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("feed_key")
