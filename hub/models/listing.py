"""The merged state of one indicator, what the feeds are built from (docs/OPERATIONS.md, merge)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class Listing(Base):
    """`tier` is block|warn|none (an allowlisted indicator is `none`); `held` = open dispute.

    `categories` is comma-separated and sorted; `next_review_at` is when decay or
    an expiry may change the listing (`hub.services.remerge.remerge_due`).
    `conflict` = members' legit votes reach the allowlist threshold while the bad
    reports say block or warn: an admin decides (`AllowlistConflictDecision`), and
    meanwhile the listing keeps its block/warn tier.
    `lone_member`: the one member whose reports alone hold this listing at warn; a
    member holds at most `LIANFANG_POLICY_LONE_WARN_PER_MEMBER` such listings.
    """

    __tablename__ = "listings"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[str] = mapped_column(String(8), default="none")
    allowlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_source: Mapped[str | None] = mapped_column(String(16), default=None)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    categories: Mapped[str] = mapped_column(String(200), default="")
    reporter_count: Mapped[int] = mapped_column(Integer, default=0)
    lone_member: Mapped[str | None] = mapped_column(String(20), default=None)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    next_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_listings_next_review_at", "next_review_at"),
        Index("ix_listings_allowlisted", "allowlisted"),
        Index("ix_listings_lone_member", "lone_member"),
        # TAXII/MISP export paging order (hub/services/exports.py; migration 0010).
        Index("ix_listings_updated_at", "updated_at", "indicator_id"),
    )
