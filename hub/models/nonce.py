"""Nonces of signed member requests, remembered for the clock window to stop replays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class SeenNonce(Base):
    __tablename__ = "seen_nonces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (UniqueConstraint("member_id", "nonce", name="uq_seen_nonces_member_nonce"),)
