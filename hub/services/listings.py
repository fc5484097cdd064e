"""Listings: the stored result of the merge for each indicator, and the feed journal.

Every path that can change a listing (ingest, retraction, dispute, allowlist,
decay/expiry, epoch retirement) ends in `recompute`, which re-merges exactly the
indicators it is given, stores what changed and writes `FeedChange` rows in the
same transaction when — and only when — an indicator's feed membership changes.
Work is done in chunks with `IN` queries, never one round trip per indicator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hub.models.allowlist import AllowlistEntry
from hub.models.dispute import Dispute
from hub.models.feed_change import FeedChange
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.member import Member
from hub.models.report import MemberStanding, Report
from hub.services.merge import MergePolicy, MergeResult, merge
from schemas.enums import Feed, IndicatorKind, MemberState
from schemas.timefmt import utcnow

CHUNK = 2000
RETIRED = "retired"
_POLICY_FIELDS = {
    "block_score": float,
    "block_min_members": int,
    "warn_score": float,
    "warn_single_confidence": int,
    "half_life_days": float,
    "allow_min_members": int,
}
_T = TypeVar("_T")


def chunked(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    """Slices of at most `size`: keeps `IN (...)` lists under every backend's limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def current_policy() -> MergePolicy:
    """The merge policy from the app config (`policy_<field>` settings) or the defaults."""
    from flask import has_app_context

    if not has_app_context():
        return MergePolicy()
    from hub import get_config

    cfg = get_config()
    overrides: dict[str, Any] = {}
    for name, cast in _POLICY_FIELDS.items():
        raw = cfg.get(f"policy_{name}")
        if raw is not None:
            overrides[name] = cast(raw)
    return MergePolicy(**overrides)


def phone_feed(
    kind: str, tier: str, allowlisted: bool, held: bool, epoch_state: str | None
) -> Feed | None:
    """Which phone feed an indicator belongs to (docs INTERFACES), or None."""
    if kind != IndicatorKind.PHONE.value or epoch_state in (None, RETIRED):
        return None
    if allowlisted:
        return Feed.PHONE_ALLOW
    if tier == "block" and not held:
        return Feed.PHONE_BLOCK
    if tier in ("block", "warn"):
        return Feed.PHONE_WARN
    return None


_LISTING_COLUMNS = (
    "indicator_id",
    "tier",
    "allowlisted",
    "allow_source",
    "held",
    "score",
    "categories",
    "reporter_count",
    "first_seen",
    "last_seen",
    "next_review_at",
)


def bulk_write(session: Session, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """`executemany` of a Core INSERT/UPDATE over `rows` (all with the keys of `rows[0]`).

    Same statement and the same column types' bind processors as
    `session.execute(stmt, rows)`, but compiled once and handed to the driver as
    plain parameter tuples: SQLAlchemy's executemany path re-builds a parameter
    dict per row through every processor, which cost more than the database's
    own work for a 10,000-report batch. Autoflush does not run (Core statement).
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = stmt.compile(dialect=dialect, column_keys=keys, for_executemany=True)
    positional = compiled.positiontup
    names = list(positional) if positional is not None else list(compiled.binds)
    processors = []
    for name in names:
        bind_type = compiled.binds[name].type
        processors.append(bind_type.dialect_impl(dialect).bind_processor(dialect))
    columns: list[Any] = []
    for name, process in zip(names, processors, strict=True):
        column = [row[name] for row in rows]
        columns.append(column if process is None else _processed(process, column))
    params: list[Any] = list(zip(*columns, strict=True))  # column-wise: C loops, not per cell
    if positional is None:
        params = [dict(zip(names, values, strict=True)) for values in params]
    sql = str(compiled)
    for chunk in chunked(params, 5000):
        connection.exec_driver_sql(sql, list(chunk))


def _processed(process: Any, column: list[Any]) -> list[Any]:
    """`process` over `column`, once per distinct value: a batch's timestamps repeat
    (one `now`, expiries `last_seen + lifetime`) and formatting one costs µs."""
    try:
        memo = {value: process(value) for value in set(column)}
    except TypeError:  # an unhashable value: no memo
        return list(map(process, column))
    return [memo[value] for value in column]


def journal(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk_write(session, FeedChange.__table__.insert(), rows)


def _membership_changes(
    value: str, old: Feed | None, new: Feed | None, now: datetime
) -> list[dict[str, Any]]:
    if old == new:
        return []
    rows = []
    if old is not None:
        rows.append({"feed": old.value, "value": value, "op": "remove", "created_at": now})
    if new is not None:
        rows.append({"feed": new.value, "value": value, "op": "add", "created_at": now})
    return rows


def _listing_values(result: MergeResult, held: bool) -> dict[str, Any]:
    return {
        "tier": result.tier,
        "allowlisted": result.allowlisted,
        "allow_source": result.allow_source,
        "held": held,
        "score": result.score,
        "categories": ",".join(result.categories),
        "reporter_count": result.reporter_count,
        "first_seen": result.first_seen,
        "last_seen": result.last_seen,
        "next_review_at": result.next_review_at,
    }


def load_weights(session: Session, member_ids: Iterable[str]) -> dict[str, float]:
    """Merge weights of the given members: 0 unless the member is `approved` (a suspended
    or revoked member's reports stop counting), else its standing (absent row = 1.0)."""
    ids = sorted(set(member_ids))
    weights: dict[str, float] = {}
    for chunk in chunked(ids):
        rows = session.execute(
            select(Member.id, Member.state, MemberStanding.weight)
            .outerjoin(MemberStanding, MemberStanding.member_id == Member.id)
            .where(Member.id.in_(chunk))
        )
        for member_id, state, weight in rows:
            if state != MemberState.APPROVED.value:
                weights[member_id] = 0.0
            elif weight is not None:
                weights[member_id] = weight
    return weights


def mark_member_listings(session: Session, member_id: str, now: datetime) -> int:
    """Make every listing this member reported on due for review now, in one UPDATE.

    Its weight changed (suspend, revoke, reinstate, a delisting): `refresh_due`,
    run before each feed build, re-merges them in bounded chunks, so an admin
    action never re-merges millions of listings inside one request.
    """
    reported = select(Report.indicator_id).where(Report.member_id == member_id)
    result = session.execute(
        update(Listing)
        .where(Listing.indicator_id.in_(reported))
        .values(next_review_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(int(result.rowcount or 0), 0)


def epoch_states(session: Session) -> dict[int, str]:
    from hub.services.consortium_keys import epoch_states as states

    return states(session)


def recompute(
    session: Session,
    indicator_ids: Iterable[int],
    now: datetime | None = None,
    *,
    policy: MergePolicy | None = None,
) -> int:
    """Re-merge these indicators from the database; returns how many listings changed."""
    now = now or utcnow()
    policy = policy or current_policy()
    ids = sorted(set(indicator_ids))
    states = epoch_states(session)
    session.flush()  # the chunks read through Core, which does not autoflush
    changed = 0
    for chunk in chunked(ids):
        changed += _recompute_chunk(session, list(chunk), now, policy, states)
    return changed


def lock_indicators(session: Session, ids: Sequence[int]) -> None:
    """Row-lock these indicators (ascending id, so lockers never deadlock each other).

    On PostgreSQL two transactions that report the same indicator at once would
    otherwise each merge without the other's uncommitted report and the later
    commit would overwrite the listing (a lost update, and a wrong journal). With
    the lock the second merge starts after the first commits and sees both.
    SQLite already serialises writers (`BEGIN IMMEDIATE`); there this is a no-op.
    `FOR NO KEY UPDATE`, not `FOR UPDATE`: inserting a report takes `FOR KEY SHARE`
    on its indicator (the foreign key), and `FOR UPDATE` against that deadlocks.
    """
    if ids and session.get_bind().dialect.name != "sqlite":
        session.execute(
            select(Indicator.id)
            .where(Indicator.id.in_(list(ids)))
            .order_by(Indicator.id)
            .with_for_update(key_share=True)
        ).all()


class _StoredReport(NamedTuple):
    """One stored report as `merge` reads it (a `ReportLike`): a plain tuple built
    straight from a Core row, ~10x cheaper than a frozen `ReportView` per report."""

    member_id: str
    category: str
    confidence: int
    first_seen: datetime
    last_seen: datetime
    expires_at: datetime
    state: str


def _recompute_chunk(
    session: Session,
    ids: list[int],
    now: datetime,
    policy: MergePolicy,
    states: dict[int, str],
) -> int:
    """Re-merge one chunk of indicators on plain Core rows, write only what changed.

    Each table is read once for the whole chunk (`IN` on the chunk's ids), each
    indicator is merged by the one `merge`, and changed listings, new listings and
    journal rows are written with one `executemany` each (`bulk_write`).
    """
    lock_indicators(session, ids)
    connection = session.connection()
    wanted = bindparam("ids", expanding=True)
    indicators_t = Indicator.__table__
    indicators = {
        ident: (kind, value, epoch)
        for ident, kind, value, epoch in connection.execute(
            select(
                indicators_t.c.id, indicators_t.c.kind, indicators_t.c.value,
                indicators_t.c.key_epoch,
            ).where(indicators_t.c.id.in_(wanted)),
            {"ids": ids},
        ).all()
    }
    reports_t = Report.__table__
    views: dict[int, list[_StoredReport]] = defaultdict(list)
    for indicator_id, *fields in connection.execute(
        select(
            reports_t.c.indicator_id, reports_t.c.member_id, reports_t.c.category,
            reports_t.c.confidence, reports_t.c.first_seen, reports_t.c.last_seen,
            reports_t.c.expires_at, reports_t.c.state,
        ).where(reports_t.c.indicator_id.in_(wanted)),
        {"ids": ids},
    ).all():
        views[indicator_id].append(_StoredReport(*fields))
    weights = load_weights(session, (v.member_id for vs in views.values() for v in vs))
    allow_t, dispute_t, listing_t = (
        AllowlistEntry.__table__, Dispute.__table__, Listing.__table__,
    )
    admin_allowed = set(
        connection.scalars(
            select(allow_t.c.indicator_id).where(allow_t.c.indicator_id.in_(wanted)),
            {"ids": ids},
        )
    )
    held_ids = set(
        connection.scalars(
            select(dispute_t.c.indicator_id).where(
                dispute_t.c.indicator_id.in_(wanted), dispute_t.c.state == "open"
            ),
            {"ids": ids},
        )
    )
    existing = {
        row[0]: tuple(row)
        for row in connection.execute(
            select(*(listing_t.c[name] for name in _LISTING_COLUMNS)).where(
                listing_t.c.indicator_id.in_(wanted)
            ),
            {"ids": ids},
        ).all()
    }

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    no_reports: list[_StoredReport] = []
    for indicator_id in ids:
        indicator = indicators.get(indicator_id)
        if indicator is None:
            continue
        kind, value, epoch = indicator
        held = indicator_id in held_ids
        result = merge(
            views.get(indicator_id, no_reports),
            weights,
            policy,
            now,
            admin_allowlisted=indicator_id in admin_allowed,
            held=held,
        )
        values = _listing_values(result, held)
        state = states.get(epoch)
        new_feed = phone_feed(kind, result.tier, result.allowlisted, held, state)
        old = existing.get(indicator_id)
        if old is None:
            old_feed = None
            inserts.append({"indicator_id": indicator_id, "updated_at": now, **values})
        else:
            # old = (indicator_id, tier, allowlisted, allow_source, held, ...): _LISTING_COLUMNS
            old_feed = phone_feed(kind, old[1], old[2], old[4], state)
            if tuple(values.values()) != old[1:]:
                row = {"b_" + k: v for k, v in values.items()}
                updates.append({"listing_id": indicator_id, "b_updated_at": now, **row})
        if old_feed != new_feed:
            changes.extend(_membership_changes(value, old_feed, new_feed, now))
    bulk_write(session, listing_t.insert(), inserts)
    if updates:
        stmt = (
            listing_t.update()
            .where(listing_t.c.indicator_id == bindparam("listing_id"))
            .values({name[2:]: bindparam(name) for name in updates[0] if name != "listing_id"})
        )
        bulk_write(session, stmt, updates)
    journal(session, changes)
    return len(inserts) + len(updates)


def refresh_due(session: Session, now: datetime, *, limit: int | None = None) -> int:
    """Recompute listings whose `next_review_at <= now` (decay, expiry, a member's
    state or weight changed); returns the count.

    The feed builder calls this before each build, so expiries and decay reach
    the feeds without any member action. Due ids are read in pages of `CHUNK`
    (keyset on `indicator_id`) and re-merged page by page, so a million due
    listings never sit in memory or in one `IN` list; `limit` caps one call.
    """
    done = 0
    after = -1
    while limit is None or done < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - done)
        due = list(
            session.scalars(
                select(Listing.indicator_id)
                .where(
                    Listing.next_review_at.is_not(None),
                    Listing.next_review_at <= now,
                    Listing.indicator_id > after,
                )
                .order_by(Listing.indicator_id)
                .limit(size)
            )
        )
        if not due:
            break
        recompute(session, due, now)
        done += len(due)
        after = due[-1]
    return done


def retire_epoch(session: Session, epoch: int) -> int:
    """Journal removals for every listed phone indicator of `epoch`; returns how many.

    Called when the epoch becomes retired: its hashes leave the phone feeds. The
    listings stay (members can still look them up); `phone_feed` treats a
    retired epoch as in no feed, so later recomputes journal nothing for them.
    """
    now = utcnow()
    rows = session.execute(
        select(Indicator.value, Listing.tier, Listing.allowlisted, Listing.held)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Indicator.key_epoch == epoch, Indicator.kind == IndicatorKind.PHONE.value)
    )
    changes = []
    for value, tier, allowlisted, held in rows:
        feed = phone_feed(IndicatorKind.PHONE.value, tier, allowlisted, held, "retiring")
        if feed is not None:
            changes.append({"feed": feed.value, "value": value, "op": "remove", "created_at": now})
    journal(session, changes)
    return len(changes)


def find_indicator(session: Session, kind: str, value: str) -> Indicator | None:
    return session.scalars(
        select(Indicator).where(Indicator.kind == kind, Indicator.value == value)
    ).first()


def listing_view(session: Session, kind: str, value: str) -> dict[str, Any] | None:
    """The merged listing a member may see (never which members reported it)."""
    row = session.execute(
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Indicator.kind == kind, Indicator.value == value)
    ).first()
    if row is None:
        return None
    indicator, listing = row
    return {
        "kind": indicator.kind,
        "value": indicator.value,
        "key_epoch": indicator.key_epoch,
        "tier": listing.tier,
        "score": listing.score,
        "categories": [c for c in listing.categories.split(",") if c],
        "reporter_count": listing.reporter_count,
        "allowlisted": listing.allowlisted,
        "allow_source": listing.allow_source,
        "held": listing.held,
        "first_seen": listing.first_seen,
        "last_seen": listing.last_seen,
        "updated_at": listing.updated_at,
    }
