"""Verified institution numbers (号码认证, issue 16): a member's claims on its own
numbers, sealed like admin allowlist numbers, and the admin's decision on each.

Revision ID: 0014_reputation
Revises: 0013_oprf
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0014_reputation"
down_revision = "0013_oprf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verified_numbers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "member_id", sa.String(20), sa.ForeignKey("members.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(96), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("owns_allowlist", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_verified_numbers_member_id", "verified_numbers", ["member_id"])
    op.create_index("ix_verified_numbers_digest_state", "verified_numbers", ["digest", "state"])


def downgrade() -> None:
    op.drop_table("verified_numbers")
