"""Per-member quota counters (docs/OPERATIONS.md, quotas): one row per member and UTC day."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class QuotaUsage(Base):
    """How many indicators new to the hub a member introduced on `day` (`YYYY-MM-DD`, UTC).

    A counter row rather than a count over `indicators`: the hub does not keep
    who first named an indicator, and the row is what concurrent batches of one
    member lock (`SELECT … FOR UPDATE`) so two of them cannot both pass the quota.
    """

    __tablename__ = "quota_usage"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    new_indicators: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
