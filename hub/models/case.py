"""Complaint cases and the groups (connected components) their indicators form."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import true

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
    """Indicators one member saw together in one complaint episode.

    Only `active` cases of approved members link and corroborate; `retracted`
    (by the member), `expired` (past `expires_at`, at the next feed build) and
    `dismissed` (an admin dismissed a group it helped build) stop counting, and the
    groups they touched are re-derived (hub/services/groups.py). `linked` is false
    while the case touches more groups than `LIANFANG_CASE_MAX_GROUP_JOINS`: it then
    links and corroborates nothing.
    """

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    case_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    category: Mapped[str] = mapped_column(String(32))
    key_epoch: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    linked: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    __table_args__ = (
        UniqueConstraint("member_id", "case_ref", name="uq_cases_member_case_ref"),
        Index("ix_cases_state_expires_at", "state", "expires_at"),
        Index("ix_cases_member_id", "member_id"),
    )


class CaseIndicator(Base):
    __tablename__ = "case_indicators"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_case_indicators_indicator_id", "indicator_id"),)


class CaseBridge(Base):
    """One member's claim, through one case, that groups `group_a` and `group_b` are one.

    Two existing groups merge only once claims of >= 2 distinct members link them
    (docs/THREAT_MODEL.md, complaint-group abuse): one member's case cannot join
    groups on its own word. Group ids are relabelled when groups merge, and a
    claim whose two sides became one group is dropped.
    """

    __tablename__ = "case_bridges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(20))
    group_a: Mapped[int] = mapped_column(ForeignKey("complaint_groups.id", ondelete="CASCADE"))
    group_b: Mapped[int] = mapped_column(ForeignKey("complaint_groups.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_case_bridges_group_a", "group_a", "group_b"),
        Index("ix_case_bridges_group_b", "group_b"),
        Index("ix_case_bridges_case_id", "case_id"),
    )
