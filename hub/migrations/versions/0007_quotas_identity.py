"""Quotas and identity reuse (issue 13, items 5 and 6).

Revision ID: 0007_quotas_identity
Revises: 0006_identity_keys

- `quota_usage`: per-member, per-UTC-day count of indicators new to the hub.
- `listings.lone_member`: the member whose reports alone hold a listing at warn.
- `feed_state.refused_entries` / `refused_at`: a feed held below its ceiling.
- `members.registration_key` (backfilled) and `reapplication_of`; partial unique
  indexes: one live (pending, approved, suspended) member per key and per
  registration number. Live duplicates already stored stop the upgrade with their
  ids: an admin revokes one of them first (the check must not pick a winner).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.models.member import registration_key

revision = "0007_quotas_identity"
down_revision = "0006_identity_keys"
branch_labels = None
depends_on = None

_LIVE = sa.text("state IN ('pending', 'approved', 'suspended')")


def upgrade() -> None:
    op.create_table(
        "quota_usage",
        sa.Column("member_id", sa.String(20), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("new_indicators", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "day", name="pk_quota_usage"),
    )
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("lone_member", sa.String(20), nullable=True))
        batch.create_index("ix_listings_lone_member", ["lone_member"])
    with op.batch_alter_table("feed_state") as batch:
        batch.add_column(sa.Column("refused_entries", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("registration_key", sa.String(64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("reapplication_of", sa.String(20), nullable=True))
    connection = op.get_bind()
    members = sa.table(
        "members", sa.column("id"), sa.column("registration_no"),
        sa.column("registration_key"), sa.column("key_id"), sa.column("state"),
    )
    rows = connection.execute(sa.select(members.c.id, members.c.registration_no)).all()
    for member_id, number in rows:
        connection.execute(
            members.update().where(members.c.id == member_id)
            .values(registration_key=registration_key(number or ""))
        )
    for column in ("key_id", "registration_key"):
        dupes = connection.execute(
            sa.select(members.c[column], sa.func.count())
            .where(_LIVE).group_by(members.c[column]).having(sa.func.count() > 1)
        ).all()
        if dupes:
            raise RuntimeError(
                f"members share a {column} while live: {[d[0] for d in dupes]}; revoke all but "
                "one of each (lianfang-hub / console) and run the migration again"
            )
    op.create_index("ix_members_key_id", "members", ["key_id"])
    op.create_index("ix_members_registration_key", "members", ["registration_key"])
    op.create_index("uq_members_live_key_id", "members", ["key_id"], unique=True,
                    sqlite_where=_LIVE, postgresql_where=_LIVE)
    op.create_index("uq_members_live_registration_key", "members", ["registration_key"],
                    unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE)


def downgrade() -> None:
    op.drop_index("uq_members_live_registration_key", table_name="members")
    op.drop_index("uq_members_live_key_id", table_name="members")
    op.drop_index("ix_members_registration_key", table_name="members")
    op.drop_index("ix_members_key_id", table_name="members")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("reapplication_of")
        batch.drop_column("registration_key")
    with op.batch_alter_table("feed_state") as batch:
        batch.drop_column("refused_at")
        batch.drop_column("refused_entries")
    with op.batch_alter_table("listings") as batch:
        batch.drop_index("ix_listings_lone_member")
        batch.drop_column("lone_member")
    op.drop_table("quota_usage")
