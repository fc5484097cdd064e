"""OPRF keys per consortium epoch (issue 20): table `oprf_keys`.

Existing epochs get their OPRF key on first use (hub/services/oprf_keys.py), so
the migration itself writes no key material.

Revision ID: 0013_oprf
Revises: 0012_listings_updated_at
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0013_oprf"
down_revision = "0012_listings_updated_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oprf_keys",
        sa.Column("epoch", sa.Integer(), sa.ForeignKey("consortium_keys.epoch"),
                  primary_key=True, autoincrement=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oprf_keys")
