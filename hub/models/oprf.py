"""OPRF keys, one per consortium epoch, encrypted at rest like the HMAC keys (issue 20).

`nonce`/`ciphertext`: the epoch's ristretto255 private scalar under the master
key (AES-GCM, the epoch bound in as associated data). `public_key` is public by
design: clients check each VOPRF proof against it. The key's state is its
consortium epoch's state (current/retiring/retired), so rotation and retirement
need nothing of their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class OprfKey(Base):
    __tablename__ = "oprf_keys"

    epoch: Mapped[int] = mapped_column(
        Integer, ForeignKey("consortium_keys.epoch"), primary_key=True, autoincrement=False)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary(64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
