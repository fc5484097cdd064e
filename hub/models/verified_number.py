"""Numbers an institution registered as its own (号码认证, issue 16), verified by an admin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class VerifiedNumber(Base):
    """One member's claim on one number: `pending` → `verified` | `rejected`, then
    `revoked` (by an admin) or `withdrawn` (by the member).

    The canonical number is sealed like an admin allowlist number (`AllowlistNumber`):
    the hub re-hashes it under every consortium epoch; `digest` (HMAC under the
    wrapping key) finds other members' claims on the same number without decrypting.
    `owns_allowlist` says verification created the allowlist number, so revocation
    removes only what verification added (an admin's own entry stays).
    """

    __tablename__ = "verified_numbers"
    __table_args__ = (Index("ix_verified_numbers_digest_state", "digest", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(96))
    display_name: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    owns_allowlist: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
