"""Admin-allowlisted official numbers, sealed, so they survive consortium key rotation.

Revision ID: 0004_allowlist_numbers
Revises: 0003_feeds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0004_allowlist_numbers"
down_revision = "0003_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_allowlist_numbers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_admin_allowlist_numbers"),
        sa.UniqueConstraint("digest", name="uq_admin_allowlist_numbers_digest"),
    )


def downgrade() -> None:
    op.drop_table("admin_allowlist_numbers")
