"""Index listings by `(updated_at, indicator_id)` (issue 19): the TAXII collections and
the MISP/CSV exports page the lists in that order (`hub.services.exports`), so each
page is an index range scan instead of a sort of every listing.

Revision ID: 0012_listings_updated_at
Revises: 0011_webhooks
"""

from __future__ import annotations

from alembic import op

revision = "0012_listings_updated_at"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_listings_updated_at", "listings", ["updated_at", "indicator_id"])


def downgrade() -> None:
    op.drop_index("ix_listings_updated_at", table_name="listings")
