"""The merge queue: ingest acknowledges a batch, the merge consumer merges behind it.

`POST /v1/reports` stores the batch and its reports and `enqueue`s one
`pending_merges` row per touched indicator in the same short transaction; that
commit is the acknowledgement (`accepted`). The consumer (`merge_pass`, run by
`drain` in the hub's scheduler or `lianfang-hub worker`) claims rows, re-merges
their indicators with `remerge.recompute` — the one way a listing changes, which
writes listings and feed-journal rows in its transaction — deletes the rows and
counts them off their batches, all in one transaction. A crash before the commit
leaves the rows (merged by the next pass); after it they are gone: every
acknowledged change is merged exactly once.

Fairness: a pass takes an equal share of rows from every member with pending
work (oldest first within a member), so a member streaming 10,000-report batches
cannot push another member's one report to the back of the queue; passes are
bounded (`LIANFANG_MERGE_PASS_SIZE`) so a pass's write transaction stays short.

Scale-out (PostgreSQL): rows are claimed `FOR UPDATE SKIP LOCKED` and their
indicators `FOR NO KEY UPDATE SKIP LOCKED`, so several consumers partition the
work by indicator and never wait for each other; a row whose indicator another
consumer holds stays queued for a later pass (that consumer merges the current
reports anyway). Batch rows are decremented in id order, so consumers never
deadlock on them. On SQLite one writer at a time does all of this.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from hub.bulk_sql import bulk_write, chunked
from hub.db import Database
from hub.models.indicator import Indicator
from hub.models.report import PendingMerge, ReportBatch
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.timefmt import utcnow

ACCEPTED = "accepted"
MERGED = "merged"
DEFAULT_PASS_SIZE = 2000

# Set after an ingest commits so this process's consumer starts at once instead
# of at its next poll (other processes poll).
WAKE = threading.Event()


class WriterGate:
    """Requests of this process that are storing a batch right now.

    SQLite has one writer and its busy handler is not first-come-first-served: a
    consumer running pass after pass would win the lock again and again while a
    member's one-report write sleeps in the handler. So on SQLite the consumer
    waits (bounded) until no request of its process is in a write, and members'
    writes go first; the in-flight limit keeps a streaming member from starving
    the consumer in turn.
    """

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()

    def __enter__(self) -> WriterGate:
        with self._idle:
            self._active += 1
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._idle:
            self._active -= 1
            if self._active == 0:
                self._idle.notify_all()

    def wait_idle(self, max_s: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=max_s)


WRITERS = WriterGate()


def enqueue(
    session: Session,
    indicator_ids: Iterable[int],
    *,
    now: datetime,
    member_id: str | None = None,
    batch_id: str | None = None,
) -> int:
    """Queue these indicators for re-merge in the caller's transaction; returns the count."""
    rows = [
        {"indicator_id": ident, "member_id": member_id, "batch_id": batch_id, "created_at": now}
        for ident in sorted(set(indicator_ids))
    ]
    bulk_write(session, PendingMerge.__table__.insert(), rows)
    return len(rows)


def head(session: Session) -> int:
    """The newest queued row's id (0 when empty): `drain(upto=head)` merges what came before."""
    return int(session.scalar(select(func.max(PendingMerge.id))) or 0)


def in_flight(session: Session, member_id: str) -> int:
    """How many of the member's batches are acknowledged but not merged yet."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReportBatch)
            .where(ReportBatch.member_id == member_id, ReportBatch.state == ACCEPTED)
        )
        or 0
    )


@dataclass
class PassResult:
    """What one consumer pass did (`rows` consumed, `indicators` re-merged)."""

    rows: int = 0
    indicators: int = 0
    listings_changed: int = 0
    batches_merged: list[str] = field(default_factory=list)
    skipped: int = 0  # rows whose indicator another consumer holds: left queued


def _claim(session: Session, limit: int, upto: int | None) -> list[Any]:
    """Up to `limit` rows, an equal share per member, oldest first within each member."""
    pending = PendingMerge.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    bound = [pending.c.id <= upto] if upto is not None else []
    members = list(
        session.execute(select(pending.c.member_id).where(*bound).distinct()).scalars()
    )
    if not members:
        return []
    members.sort(key=lambda m: (m is None, m or ""))
    share = max(limit // len(members), 1)
    rows: list[Any] = []
    for member in members:
        owner = pending.c.member_id.is_(None) if member is None else pending.c.member_id == member
        query = (
            select(pending.c.id, pending.c.indicator_id, pending.c.batch_id)
            .where(owner, *bound)
            .order_by(pending.c.id)
            .limit(share)
        )
        if postgres:
            query = query.with_for_update(skip_locked=True)
        rows.extend(session.execute(query).all())
    return rows


def _lock_free_indicators(session: Session, ids: list[int]) -> tuple[set[int], set[int]]:
    """(indicators this pass now holds, ids with no indicator row any more)."""
    table = Indicator.__table__
    wanted = bindparam("ids", expanding=True)
    existing = set(
        session.execute(select(table.c.id).where(table.c.id.in_(wanted)), {"ids": ids}).scalars()
    )
    if session.get_bind().dialect.name != "postgresql":
        return existing, set(ids) - existing
    held = set(
        session.execute(
            select(table.c.id)
            .where(table.c.id.in_(wanted))
            .order_by(table.c.id)
            .with_for_update(key_share=True, skip_locked=True),
            {"ids": ids},
        ).scalars()
    )
    return held, set(ids) - existing


def merge_pass(
    session: Session,
    *,
    policy: MergePolicy,
    now: datetime | None = None,
    limit: int = DEFAULT_PASS_SIZE,
    upto: int | None = None,
) -> PassResult:
    """Claim, re-merge and consume one share of the queue in the caller's transaction.

    The caller commits (that commit is the merge) or rolls back (nothing happened).
    `upto` restricts the pass to rows with id ≤ `upto` (`build-feeds` merges what
    was acknowledged before it started).
    """
    now = now or utcnow()
    result = PassResult()
    claimed = _claim(session, limit, upto)
    if not claimed:
        return result
    held, gone = _lock_free_indicators(session, sorted({row.indicator_id for row in claimed}))
    consumed = [row for row in claimed if row.indicator_id in held or row.indicator_id in gone]
    result.skipped = len(claimed) - len(consumed)
    if not consumed:
        return result
    merged_ids = sorted(held)
    result.listings_changed = recompute(session, merged_ids, now, policy=policy)
    result.indicators = len(merged_ids)
    pending = PendingMerge.__table__
    for chunk in chunked(sorted(row.id for row in consumed)):
        session.execute(pending.delete().where(pending.c.id.in_(list(chunk))))
    result.rows = len(consumed)
    per_batch = Counter(row.batch_id for row in consumed if row.batch_id is not None)
    result.batches_merged = _count_off(session, per_batch, now)
    return result


def _count_off(session: Session, per_batch: Counter[str | None], now: datetime) -> list[str]:
    """Subtract consumed rows from their batches (id order: no deadlock between
    consumers); a batch reaching 0 becomes `merged` at `now`. Returns those batches."""
    batches = ReportBatch.__table__
    done: list[str] = []
    for batch_id in sorted(b for b in per_batch if b is not None):
        left = batches.c.pending - per_batch[batch_id]
        row = session.execute(
            batches.update()
            .where(batches.c.id == batch_id)
            .values(
                pending=left,
                state=case((left <= 0, MERGED), else_=batches.c.state),
                merged_at=case((left <= 0, now), else_=batches.c.merged_at),
            )
            .returning(batches.c.state)
        ).first()
        if row is not None and row.state == MERGED:
            done.append(batch_id)
    return done


def drain(
    database: Database,
    *,
    policy: MergePolicy,
    upto: int | None = None,
    limit: int = DEFAULT_PASS_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
    on_pass: Callable[[PassResult], None] | None = None,
) -> int:
    """Run passes, one transaction each, until the queue (up to `upto`) is empty;
    returns the rows consumed. Rows another consumer holds are waited for briefly
    (it is merging them), so `drain(upto=...)` returns only once all are merged."""
    total = 0
    sqlite = database.engine.dialect.name == "sqlite"
    while not should_stop():
        if sqlite:
            WRITERS.wait_idle(max_s=1.0)
        with database.new_session(write=True) as session:
            result = merge_pass(session, policy=policy, limit=limit, upto=upto)
            session.commit()
        if on_pass is not None:
            on_pass(result)
        total += result.rows
        if result.rows == 0:
            if result.skipped == 0 and not _left(database, upto):
                return total
            time.sleep(0.02)  # rows held by another consumer: it is merging them
    return total


def _left(database: Database, upto: int | None) -> bool:
    with database.new_session(write=False) as session:
        query = select(PendingMerge.id).limit(1)
        if upto is not None:
            query = query.where(PendingMerge.id <= upto)
        return session.scalar(query) is not None


def batch_view(batch: ReportBatch) -> dict[str, Any]:
    """`GET /v1/batches/<id>`'s answer for one of the caller's batches."""
    return {
        "batch_id": batch.id,
        "state": batch.state,
        "accepted": batch.accepted,
        "rejected": batch.rejected,
        "created_at": batch.created_at,
        "merged_at": batch.merged_at,
    }
