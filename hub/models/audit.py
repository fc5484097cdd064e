"""The append-only, hash-chained audit log and its single head row.

The head row (id 1) holds the sequence number and hash of the last entry; a
writer updates it first, which takes a row lock on PostgreSQL and the write lock
on SQLite, so concurrent writers append one after another and never fork the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditVerified(Base):
    """The last point up to which a page view verified the chain (one row, id 1).

    Lets the dashboard and the audit page verify only the rows appended since
    (`audit.verify_incremental`), so a page view costs the same at 10^6 rows as
    at 10^3. It is a cache for speed, not an anchor: whoever writes the database
    can edit it too. The anchor is the signed checkpoint members keep, and the
    full check is `lianfang-hub verify-audit` (docs/THREAT_MODEL.md).
    """

    __tablename__ = "audit_verified"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
