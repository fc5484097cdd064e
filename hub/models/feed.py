"""Feed publishing state: per-feed version pointer, published history, the build lease.

`FeedState.manifest` holds the live manifest envelope (JSON text). The DB is the
source of truth: the manifest file on disk is only swapped after the DB commit,
and rewritten from here when a crash left it behind (`builder.sync_manifests`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UTCDateTime


class FeedState(Base):
    """Where each feed stands: its version and the last journal row it has consumed."""

    __tablename__ = "feed_state"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    last_change_id: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_count: Mapped[int] = mapped_column(BigInteger, default=0)
    manifest: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set while the feed is held at its version because the next one would pass
    # `LIANFANG_FEED_MAX_ENTRIES`: the size it would have had, and since when.
    refused_entries: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class FeedVersion(Base):
    """One row per published version (not per refresh): the feed's public history."""

    __tablename__ = "feed_versions"
    __table_args__ = (UniqueConstraint("feed", "version", name="uq_feed_versions_feed_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    entry_count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)


class BuildLease(Base):
    """A named lease: who may build feeds until when (works on SQLite and PostgreSQL)."""

    __tablename__ = "build_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
