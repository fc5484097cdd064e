"""A hashed indicator the hub has heard of (docs/ARCHITECTURE.md §2): never the raw identifier."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base


class Indicator(Base):
    """`value` is 64 lowercase hex (HMAC) or 16 hex (complaint_text SimHash).

    `group_id` links it into a complaint group (connected component of cases).
    `feed_key` (phones only) is the first 16 hex of `value`, the 64-bit key the
    phone feeds publish: unique, so one feed key is one indicator and nothing done
    to one value can move another value's key (docs/THREAT_MODEL.md, feed-key
    collisions). `key_epoch` is the epoch of the first report, informational only:
    each report and admin allowlist entry carries its own epoch.
    `group_tag` is the side of an admin split it is on (0 unless split; cases link
    only indicators with equal tags) or -1 when an admin removed it from groups.
    """

    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    key_epoch: Mapped[int] = mapped_column(Integer)
    feed_key: Mapped[str | None] = mapped_column(String(16), default=None)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaint_groups.id", ondelete="SET NULL"), default=None
    )
    group_tag: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
        Index("ix_indicators_group_id", "group_id"),
        Index("ix_indicators_key_epoch", "key_epoch"),
        Index("uq_indicators_feed_key", "feed_key", unique=True),
    )
