"""The feed journal (`feed_changes`): every change of a feed's membership, in commit order.

Writers (the re-merge, epoch retirement, complaint-group linking) append rows
in the transaction that changes a listing or a group, so the journal never
disagrees with the tables. Readers are the feed builder (the final op of each
value since its last build, under a watermark below which every row is
committed) and retention (rows every feed has consumed may go). This module
sits below `hub.services`: it knows the tables and the feed rules, never a service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from hub.bulk_sql import bulk_write
from hub.db import Database
from hub.models.feed import FeedState
from hub.models.feed_change import FeedChange
from schemas.enums import Feed, IndicatorKind, Tier


class FeedOp(StrEnum):
    """What a journal row does to its value in its feed (stored in `feed_changes.op`)."""

    ADD = "add"  # a phone hash enters a phone feed
    REMOVE = "remove"  # a phone hash or a complaint group leaves its feed
    UPSERT = "upsert"  # a complaint group is new or its record changed


def phone_feed(kind: str, tier: str, allowlisted: bool, held: bool) -> Feed | None:
    """Which phone feed an indicator belongs to, or None (docs/ARCHITECTURE.md §4, §5):
    a function of the listing only (epochs act through the reports it counts)."""
    if kind != IndicatorKind.PHONE.value:
        return None
    if allowlisted:
        return Feed.PHONE_ALLOW
    if tier == Tier.BLOCK and not held:
        return Feed.PHONE_BLOCK
    if tier in (Tier.BLOCK, Tier.WARN):
        return Feed.PHONE_WARN
    return None


def change(feed: str, value: str, op: FeedOp, now: datetime) -> dict[str, Any]:
    """One journal row, as `write` takes it."""
    return {"feed": feed, "value": value, "op": op.value, "created_at": now}


def membership_changes(
    value: str, old: Feed | None, new: Feed | None, now: datetime
) -> list[dict[str, Any]]:
    """The rows that move `value` from feed `old` to feed `new` (none when equal)."""
    if old == new:
        return []
    rows = []
    if old is not None:
        rows.append(change(old.value, value, FeedOp.REMOVE, now))
    if new is not None:
        rows.append(change(new.value, value, FeedOp.ADD, now))
    return rows


def write(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append journal rows in the caller's transaction (one `executemany`)."""
    bulk_write(session, FeedChange.__table__.insert(), rows)


def committed_watermark(database: Database) -> int:
    """The highest journal id below which every row is committed.

    On PostgreSQL ids are drawn at insert time but rows become visible at commit,
    so a row with a smaller id can appear after a larger one was read; a brief
    SHARE lock waits for in-flight writers, after which everything up to max(id)
    is visible. SQLite has one writer at a time, so commit order is id order.
    """
    table = FeedChange.__tablename__
    with database.new_session(write=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
        top = session.execute(text(f"SELECT MAX(id) FROM {table}")).scalar()  # noqa: S608
        session.commit()
        return int(top or 0)


def final_ops(session: Session, feed: str, after: int, upto: int) -> dict[str, str]:
    """value → its last op in (after, upto]: an add then a remove cancels out."""
    rows = session.execute(
        select(FeedChange.value, FeedChange.op)
        .where(FeedChange.feed == feed, FeedChange.id > after, FeedChange.id <= upto)
        .order_by(FeedChange.id)
    )
    final: dict[str, str] = {}
    for value, op in rows:
        final[value] = op
    return final


def consumed_watermark(session: Session, feeds: tuple[str, ...]) -> int:
    """The highest journal id every feed has consumed (0 when a feed never built)."""
    rows = {
        feed: last for feed, last in session.execute(
            select(FeedState.feed, FeedState.last_change_id)
        )
    }
    if any(feed not in rows for feed in feeds):
        return 0
    return int(min(rows[feed] for feed in feeds)) if feeds else 0


def delete_consumed(session: Session, watermark: int, cutoff: datetime) -> Any:
    """Delete rows at or below `watermark` created before `cutoff`; the DELETE's result."""
    return session.execute(
        delete(FeedChange).where(FeedChange.id <= watermark, FeedChange.created_at < cutoff)
    )
