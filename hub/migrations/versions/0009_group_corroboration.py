"""Complaint-group corroboration (issue 13, item 7): cases can be retracted, expire and
be dismissed; merging two groups needs bridge claims of two members; admins can
remove an indicator from groups or split a group.

Existing cases become `active` and expire 180 days (the default
`LIANFANG_CASE_TTL_DAYS`) after they were observed. Existing groups keep their
shape until a correction re-derives them (hub/services/groups.py `rederive`).

Revision ID: 0009_group_corroboration
Revises: 0008_audit_checkpoints
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = "0009_group_corroboration"
down_revision = "0008_audit_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("linked", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    cases = sa.table(
        "cases", sa.column("id", sa.Integer()), sa.column("observed_at", UTCDateTime()),
        sa.column("expires_at", UTCDateTime()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(cases.c.id, cases.c.observed_at)).all()
    for ident, observed in rows:
        connection.execute(
            sa.update(cases).where(cases.c.id == ident)
            .values(expires_at=observed + timedelta(days=180))
        )
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("expires_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index("ix_cases_state_expires_at", ["state", "expires_at"])
        batch.create_index("ix_cases_member_id", ["member_id"])
    with op.batch_alter_table("indicators") as batch:
        batch.add_column(
            sa.Column("group_tag", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "case_bridges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("member_id", sa.String(20), nullable=False),
        sa.Column(
            "group_a", sa.Integer(),
            sa.ForeignKey("complaint_groups.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "group_b", sa.Integer(),
            sa.ForeignKey("complaint_groups.id", ondelete="CASCADE"), nullable=False,
        ),
    )
    op.create_index("ix_case_bridges_group_a", "case_bridges", ["group_a", "group_b"])
    op.create_index("ix_case_bridges_group_b", "case_bridges", ["group_b"])
    op.create_index("ix_case_bridges_case_id", "case_bridges", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_bridges")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("group_tag")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_member_id")
        batch.drop_index("ix_cases_state_expires_at")
        batch.drop_column("linked")
        batch.drop_column("expires_at")
        batch.drop_column("state")
