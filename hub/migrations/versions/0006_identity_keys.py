"""A second key per consortium-key epoch: the identity key, for approved members only.

Revision ID: 0006_identity_keys
Revises: 0004_allowlist_numbers

Existing epochs keep NULL (their identity indicators were hashed under the
phone key); the next `rotate-consortium-key` creates an epoch with both keys.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_identity_keys"
down_revision = "0005_consensus_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consortium_keys") as batch:
        batch.add_column(sa.Column("identity_nonce", sa.LargeBinary(12), nullable=True))
        batch.add_column(sa.Column("identity_ciphertext", sa.LargeBinary(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consortium_keys") as batch:
        batch.drop_column("identity_ciphertext")
        batch.drop_column("identity_nonce")
