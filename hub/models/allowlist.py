"""Admin-verified allowlist entries (docs/ARCHITECTURE.md §4: allowlist beats block)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class AllowlistEntry(Base):
    """`key_epoch` is the epoch the admin's hash was made under (the entry's own, not
    the indicator's first reporter's label): the entry stops counting when it retires."""

    __tablename__ = "admin_allowlist"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    key_epoch: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllowlistConflictDecision(Base):
    """An admin's `keep` on a consensus-allowlist conflict: members' legit votes stay
    overruled (the block/warn stands) and the conflict leaves the open list.
    (`allow` is an admin allowlist entry instead, so it needs no row here.)"""

    __tablename__ = "allowlist_conflict_decisions"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllowlistNumber(Base):
    """An admin-entered official number, normalised (E.164) and AES-GCM sealed under the
    master key, so it can be re-hashed under every new consortium epoch.

    Official numbers are public, not customer data; they are still sealed so a DB dump
    alone does not reveal which numbers the association vouched for. `digest` is an
    HMAC of the normalised number under the wrapping key: it finds duplicates without
    decrypting every row.
    """

    __tablename__ = "admin_allowlist_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    added_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
