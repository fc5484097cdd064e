"""Reports: indicators, listings, feed journal, reports and batches, cases, groups,
disputes, admin allowlist, member standing (weights).

Revision ID: 0002_reports
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0002_reports"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label", sa.String(24), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_complaint_groups"),
        sa.UniqueConstraint("label", name="uq_complaint_groups_label"),
    )
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("key_epoch", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["complaint_groups.id"],
            name="fk_indicators_group_id_complaint_groups",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_indicators"),
        sa.UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
    )
    op.create_index("ix_indicators_group_id", "indicators", ["group_id"])
    op.create_index("ix_indicators_key_epoch", "indicators", ["key_epoch"])

    op.create_table(
        "listings",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("allowlisted", sa.Boolean(), nullable=False),
        sa.Column("allow_source", sa.String(16), nullable=True),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("categories", sa.String(200), nullable=False),
        sa.Column("reporter_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=True),
        sa.Column("last_seen", UTCDateTime(), nullable=True),
        sa.Column("next_review_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_listings_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", name="pk_listings"),
    )
    op.create_index("ix_listings_next_review_at", "listings", ["next_review_at"])
    op.create_index("ix_listings_allowlisted", "listings", ["allowlisted"])

    op.create_table(
        "feed_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_changes"),
    )
    op.create_index("ix_feed_changes_feed_id", "feed_changes", ["feed", "id"])

    op.create_table(
        "report_batches",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.Column("signed_timestamp", sa.String(20), nullable=True),
        sa.Column("nonce", sa.String(64), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_report_batches_member_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_batches"),
        sa.UniqueConstraint("member_id", "idempotency_key", name="uq_report_batches_member_key"),
    )

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("key_epoch", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(24), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_reports_member_id_members"),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_reports_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["report_batches.id"],
            name="fk_reports_batch_id_report_batches",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.UniqueConstraint(
            "member_id", "indicator_id", "category", name="uq_reports_member_indicator_category"
        ),
    )
    op.create_index("ix_reports_indicator_id", "reports", ["indicator_id"])

    op.create_table(
        "member_standing",
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("delisted_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_member_standing_member_id_members"
        ),
        sa.PrimaryKeyConstraint("member_id", name="pk_member_standing"),
    )

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("key_epoch", sa.Integer(), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_cases_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("member_id", "case_ref", name="uq_cases_member_case_ref"),
    )
    op.create_table(
        "case_indicators",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_case_indicators_case_id_cases", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_case_indicators_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "indicator_id", name="pk_case_indicators"),
    )
    op.create_index("ix_case_indicators_indicator_id", "case_indicators", ["indicator_id"])

    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("opened_by_member", sa.String(20), nullable=True),
        sa.Column("opened_by_admin", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("resolution_reason", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_disputes_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_member"], ["members.id"], name="fk_disputes_opened_by_member_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_state_indicator", "disputes", ["state", "indicator_id"])

    op.create_table(
        "admin_allowlist",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_admin_allowlist_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", name="pk_admin_allowlist"),
    )


def downgrade() -> None:
    for table in (
        "admin_allowlist",
        "disputes",
        "case_indicators",
        "cases",
        "member_standing",
        "reports",
        "report_batches",
        "feed_changes",
        "listings",
        "indicators",
        "complaint_groups",
    ):
        op.drop_table(table)
