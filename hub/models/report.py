"""Member reports, the batches that carried them, and each member's standing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime
from schemas.enums import ReportState


class ReportBatch(Base):
    """One accepted `POST /v1/reports`: idempotency, provenance and its merge state.

    The member's request signature, timestamp and nonce are kept with the exact
    signed body (zlib-compressed, `body`; cleared by the retention purge once none of
    the batch's reports is left) and its SHA-256, so the hub can later prove
    what the member signed (`lianfang-hub verify-provenance`). `response` is the
    JSON answer replayed for a repeated `Idempotency-Key`. `state` is `accepted`
    until the merge consumer has merged every indicator the batch touched
    (`pending` counts its rows in `pending_merges`), then `merged` at `merged_at`.
    """

    __tablename__ = "report_batches"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16), default="reports")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    body_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    signed_timestamp: Mapped[str | None] = mapped_column(String(20), default=None)
    nonce: Mapped[str | None] = mapped_column(String(64), default=None)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    signed_path: Mapped[str | None] = mapped_column(String(256), default=None)
    state: Mapped[str] = mapped_column(String(16), default="merged")
    pending: Mapped[int] = mapped_column(Integer, default=0)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key", name="uq_report_batches_member_key"),
        Index("ix_report_batches_member_state", "member_id", "state"),
    )


class PendingMerge(Base):
    """One indicator a change touched, waiting for the merge consumer (`hub.services.merge_queue`).

    Written in the transaction that changes the indicator's inputs (a batch's
    reports, a due decay); deleted in the transaction that re-merges it, so a
    crash either keeps the row (merged later) or has merged it (row gone): never
    lost, never merged twice. `member_id` lets the consumer interleave members;
    `batch_id` ties the row to the batch whose state it completes.
    """

    __tablename__ = "pending_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    indicator_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str | None] = mapped_column(String(24), default=None)
    batch_id: Mapped[str | None] = mapped_column(String(24), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_pending_merges_member_id", "member_id", "id"),
        Index("ix_pending_merges_indicator", "indicator_id"),
    )


class Report(Base):
    """A member's claim about one indicator in one category; a re-report updates it."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_epoch: Mapped[int] = mapped_column(Integer)
    case_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16), default=ReportState.ACTIVE.value)
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("report_batches.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint(
            "member_id", "indicator_id", "category", name="uq_reports_member_indicator_category"
        ),
        Index("ix_reports_indicator_id", "indicator_id"),
    )


class MemberStanding(Base):
    """A member's merge weight (docs/ARCHITECTURE.md §4: from its dispute record); absent row = 1.0.

    Kept beside `members` rather than in it so the reports part owns its policy state.
    """

    __tablename__ = "member_standing"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    delisted_count: Mapped[int] = mapped_column(Integer, default=0)
    # Dispute standing: halved by each dismissed (upheld) dispute the member opened, the
    # way delistings halve `weight`; it scales the member's open-dispute cap.
    dispute_weight: Mapped[float] = mapped_column(Float, default=1.0)
    dismissed_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
