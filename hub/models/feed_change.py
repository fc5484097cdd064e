"""The feed journal: one row per change of feed membership (docs/OPERATIONS.md, "The merge policy").

Written in the same transaction as the listing or group change that causes it,
so the feed builder (reading rows with id > its last change id) never misses or
invents a change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class FeedChange(Base):
    """`feed` is a `schemas.enums.Feed`; `op` add|remove (phone) or upsert|remove (groups)."""

    __tablename__ = "feed_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_feed_changes_feed_id", "feed", "id"),)
