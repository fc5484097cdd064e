"""Where page views last verified the audit chain, so they verify only what is new.

Revision ID: 0008_audit_checkpoints
Revises: 0007_quotas_identity

One row (id 1) with the sequence number and hash up to which the chain was
verified (`hub.services.audit.verify_incremental`). Empty after the upgrade:
the first page view verifies the whole chain once and stores its head. The
signed audit checkpoints members keep need no table (they are signed from
`audit_head` on request).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0008_audit_checkpoints"
down_revision = "0007_quotas_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verified",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_verified"),
    )


def downgrade() -> None:
    op.drop_table("audit_verified")
