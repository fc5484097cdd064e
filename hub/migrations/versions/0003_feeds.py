"""Feeds: per-feed state, published version history, the build lease.

Revision ID: 0003_feeds
Revises: 0002_reports
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0003_feeds"
down_revision = "0002_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_state",
        sa.Column("feed", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_change_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name="pk_feed_state"),
    )
    op.create_table(
        "feed_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_versions"),
        sa.UniqueConstraint("feed", "version", name="uq_feed_versions_feed_version"),
    )
    leases = op.create_table(
        "build_leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_build_leases"),
    )
    op.bulk_insert(
        leases, [{"name": "feeds", "holder": "", "expires_at": datetime(1970, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:
    op.drop_table("build_leases")
    op.drop_table("feed_versions")
    op.drop_table("feed_state")
