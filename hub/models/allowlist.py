"""Admin-verified allowlist entries (docs/ARCHITECTURE.md §4: allowlist beats block)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class AllowlistEntry(Base):
    __tablename__ = "admin_allowlist"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
