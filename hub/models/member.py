"""A member institution: applicant first, then (maybe) approved, suspended, revoked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime

#: States in which a member row is a live membership (or an application towards one):
#: at most one per key and per registration number (`uq_members_live_*`).
LIVE_STATES = ("pending", "approved", "suspended")
_LIVE = text("state IN ('pending', 'approved', 'suspended')")


def registration_key(registration_no: str) -> str:
    """The comparable form of a registration number: upper case, no spaces or dashes
    (`91 1100-00ab` and `911100-00AB` are one institution)."""
    key = "".join(ch for ch in registration_no.upper() if ch not in " \t-_./")
    key = key or registration_no.strip().upper()  # "-" alone is still one number
    return key[:64]  # upper() may lengthen text ("ß" → "SS"); the column holds 64


class Member(Base):
    """`registration_key` is `registration_key(registration_no)`, `key_id` the key's
    fingerprint: each is unique among live members (partial unique indexes, so the
    check holds under concurrent applications on PostgreSQL). `reapplication_of` is
    the most recent earlier membership with the same key or registration number."""

    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    registration_no: Mapped[str] = mapped_column(String(64))
    contact_email: Mapped[str] = mapped_column(String(254))
    public_key: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    registration_key: Mapped[str] = mapped_column(String(64), default="")
    reapplication_of: Mapped[str | None] = mapped_column(String(20), default=None)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (
        Index("ix_members_state_created", "state", "created_at"),
        Index("ix_members_key_id", "key_id"),
        Index("ix_members_registration_key", "registration_key"),
        Index("uq_members_live_key_id", "key_id", unique=True,
              sqlite_where=_LIVE, postgresql_where=_LIVE),
        Index("uq_members_live_registration_key", "registration_key", unique=True,
              sqlite_where=_LIVE, postgresql_where=_LIVE),
    )
