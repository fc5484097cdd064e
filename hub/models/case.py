"""Complaint cases and the groups (connected components) their indicators form."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class ComplaintGroup(Base):
    """A connected component of co-occurring indicators; `label` is the public `g-<hex>`."""

    __tablename__ = "complaint_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(24), unique=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


Group = ComplaintGroup


class Case(Base):
    """Indicators one member saw together in one complaint episode."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    case_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    category: Mapped[str] = mapped_column(String(32))
    key_epoch: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("member_id", "case_ref", name="uq_cases_member_case_ref"),)


class CaseIndicator(Base):
    __tablename__ = "case_indicators"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_case_indicators_indicator_id", "indicator_id"),)
