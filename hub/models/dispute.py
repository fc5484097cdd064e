"""Disputes of a listing (docs/ARCHITECTURE.md §4): while open, the indicator stays out of block."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime
from schemas.enums import DisputeState


class Dispute(Base):
    """Opened by a member (`opened_by_member`) or an admin (`opened_by_admin`)."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    opened_by_member: Mapped[str | None] = mapped_column(ForeignKey("members.id"), default=None)
    opened_by_admin: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=DisputeState.OPEN.value)
    resolution_reason: Mapped[str | None] = mapped_column(Text, default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_disputes_state_indicator", "state", "indicator_id"),)
