"""Consortium HMAC keys, two per epoch, encrypted at rest (AES-GCM under the master key).

`nonce`/`ciphertext` hold the phone key (screeners receive it); `identity_nonce`/
`identity_ciphertext` the identity key (approved members only). Epochs created
before the split (migration 0005) have no identity key: their identity
indicators were hashed under the phone key, which readers already held.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class ConsortiumKey(Base):
    __tablename__ = "consortium_keys"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    identity_nonce: Mapped[bytes | None] = mapped_column(LargeBinary(12), default=None)
    identity_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary(64), default=None)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retiring_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
