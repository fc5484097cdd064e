"""Re-merge: the one way a listing changes.

A listing is a function of the indicator's reports made under a usable (current
or retiring) epoch — each report's own `key_epoch`, the member's label — and its
admin allowlist entry under a usable epoch; a phone feed is a function of the
listing alone (`journal.phone_feed`). So a member's wrong label reaches only its
own report, and retiring an epoch removes exactly the contributions made under it.

Every path that can change a listing (ingest, retraction, dispute, allowlist,
decay/expiry, epoch retirement) ends in `recompute`, which re-merges exactly the
indicators it is given, stores what changed and writes feed journal rows in the
same transaction when — and only when — an indicator's feed membership changes.
Work is done in chunks with `IN` queries, never one round trip per indicator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from hub.bulk_sql import CHUNK, bulk_write, chunked, lock_indicators
from hub.feeds import journal
from hub.models.allowlist import AllowlistConflictDecision, AllowlistEntry
from hub.models.dispute import Dispute
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.member import Member
from hub.models.report import MemberStanding, Report
from hub.services import webhooks
from hub.services.consortium_keys import epoch_states
from hub.services.merge import MergePolicy, MergeResult, merge
from schemas.enums import USABLE_EPOCH_STATES, DisputeState, IndicatorKind, MemberState
from schemas.timefmt import utcnow

_LISTING_COLUMNS = (
    "indicator_id",
    "tier",
    "allowlisted",
    "allow_source",
    "held",
    "conflict",
    "score",
    "categories",
    "reporter_count",
    "first_seen",
    "last_seen",
    "next_review_at",
    "lone_member",
)


def _listing_values(result: MergeResult, held: bool) -> dict[str, Any]:
    return {
        "tier": result.tier,
        "allowlisted": result.allowlisted,
        "allow_source": result.allow_source,
        "held": held,
        "conflict": result.conflict,
        "score": result.score,
        "categories": ",".join(result.categories),
        "reporter_count": result.reporter_count,
        "first_seen": result.first_seen,
        "last_seen": result.last_seen,
        "next_review_at": result.next_review_at,
        "lone_member": result.lone_member,
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


def recompute(
    session: Session,
    indicator_ids: Iterable[int],
    now: datetime | None = None,
    *,
    policy: MergePolicy,
) -> int:
    """Re-merge these indicators from the database under `policy` (the caller passes
    `HubConfig.policy`); returns how many listings changed."""
    now = now or utcnow()
    ids = sorted(set(indicator_ids))
    states = epoch_states(session)
    session.flush()  # the chunks read through Core, which does not autoflush
    changed = 0
    for chunk in chunked(ids):
        changed += _recompute_chunk(session, list(chunk), now, policy, states)
    return changed


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
        ident: (kind, value, epoch, feed_key)
        for ident, kind, value, epoch, feed_key in connection.execute(
            select(
                indicators_t.c.id, indicators_t.c.kind, indicators_t.c.value,
                indicators_t.c.key_epoch, indicators_t.c.feed_key,
            ).where(indicators_t.c.id.in_(wanted)),
            {"ids": ids},
        ).all()
    }
    reports_t = Report.__table__
    views: dict[int, list[_StoredReport]] = defaultdict(list)
    for indicator_id, epoch, *fields in connection.execute(
        select(
            reports_t.c.indicator_id, reports_t.c.key_epoch, reports_t.c.member_id,
            reports_t.c.category, reports_t.c.confidence, reports_t.c.first_seen,
            reports_t.c.last_seen, reports_t.c.expires_at, reports_t.c.state,
        ).where(reports_t.c.indicator_id.in_(wanted)),
        {"ids": ids},
    ).all():
        if states.get(epoch) in USABLE_EPOCH_STATES:  # a retired epoch's reports stop counting
            views[indicator_id].append(_StoredReport(*fields))
    weights = load_weights(session, (v.member_id for vs in views.values() for v in vs))
    allow_t, dispute_t, listing_t = (
        AllowlistEntry.__table__, Dispute.__table__, Listing.__table__,
    )
    admin_allowed = {
        indicator_id
        for indicator_id, entry_epoch in connection.execute(
            select(allow_t.c.indicator_id, allow_t.c.key_epoch).where(
                allow_t.c.indicator_id.in_(wanted)
            ),
            {"ids": ids},
        )
        if states.get(
            entry_epoch if entry_epoch is not None else indicators.get(indicator_id, (0, 0, 0))[2]
        ) in USABLE_EPOCH_STATES
    }
    held_ids = set(
        connection.scalars(
            select(dispute_t.c.indicator_id).where(
                dispute_t.c.indicator_id.in_(wanted), dispute_t.c.state == DisputeState.OPEN.value
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
    settled: list[int] = []  # conflicts that ended: an admin's `keep` on them lapses
    tiers: list[tuple[str, str, str | None, str, list[str]]] = []  # for member webhooks
    results = {
        indicator_id: merge(
            views.get(indicator_id, no_reports),
            weights,
            policy,
            now,
            admin_allowlisted=indicator_id in admin_allowed,
            held=indicator_id in held_ids,
        )
        for indicator_id in ids
        if indicator_id in indicators
    }
    _bound_lone_listings(session, results, existing, views, weights, policy, now,
                         admin_allowed, held_ids)
    for indicator_id in ids:
        indicator = indicators.get(indicator_id)
        if indicator is None:
            continue
        kind, value, _, feed_key = indicator
        # A phone value without a feed key (a collider stored before 0005) is never published.
        publishable = kind != IndicatorKind.PHONE.value or feed_key is not None
        held = indicator_id in held_ids
        result = results[indicator_id]
        values = _listing_values(result, held)
        new_feed = journal.phone_feed(kind, result.tier, result.allowlisted, held)
        new_feed = new_feed if publishable else None
        old = existing.get(indicator_id)
        old_tier = None if old is None else old[1]
        if old_tier != result.tier and (old_tier is not None or result.tier != "none"):
            reporters = [v.member_id for v in views.get(indicator_id, no_reports)]
            tiers.append((kind, value, old_tier, result.tier, reporters))
        if old is None:
            old_feed = None
            inserts.append({"indicator_id": indicator_id, "updated_at": now, **values})
        else:
            # old = (indicator_id, tier, allowlisted, allow_source, held, ...): _LISTING_COLUMNS
            old_feed = journal.phone_feed(kind, old[1], old[2], old[4]) if publishable else None
            if tuple(values.values()) != old[1:]:
                row = {"b_" + k: v for k, v in values.items()}
                updates.append({"listing_id": indicator_id, "b_updated_at": now, **row})
            if old[5] and not result.conflict:
                settled.append(indicator_id)
        if old_feed != new_feed:
            changes.extend(journal.membership_changes(value, old_feed, new_feed, now))
    bulk_write(session, listing_t.insert(), inserts)
    if updates:
        stmt = (
            listing_t.update()
            .where(listing_t.c.indicator_id == bindparam("listing_id"))
            .values({name[2:]: bindparam(name) for name in updates[0] if name != "listing_id"})
        )
        bulk_write(session, stmt, updates)
    journal.write(session, changes)
    if tiers:  # one SELECT of webhooks, one bulk INSERT of outbox rows per chunk
        webhooks.emit(session, webhooks.tier_events(tiers), now)
    if settled:
        decisions_t = AllowlistConflictDecision.__table__
        connection.execute(
            decisions_t.delete().where(decisions_t.c.indicator_id.in_(wanted)), {"ids": settled}
        )
    return len(inserts) + len(updates)


_LONE = _LISTING_COLUMNS.index("lone_member")


def _bound_lone_listings(
    session: Session,
    results: dict[int, MergeResult],
    existing: dict[int, tuple[Any, ...]],
    views: dict[int, list[_StoredReport]],
    weights: dict[str, float],
    policy: MergePolicy,
    now: datetime,
    admin_allowed: set[int],
    held_ids: set[int],
) -> None:
    """Hold each member to `policy.lone_warn_per_member` listings its reports alone
    keep at warn (issue 13, item 5): a listing it already holds stays; a new one
    beyond the bound is re-merged with `lone_allowed=False` (tier `none`, not
    published) — in indicator order, so the member's earliest listings win. It is
    looked at again whenever the listing is re-merged (a report, its review time).
    """
    claims = {
        ident: r.lone_member for ident, r in results.items()
        if r.lone_member is not None
        and (existing.get(ident) is None or existing[ident][_LONE] != r.lone_member)
    }
    if not claims:
        return
    members = sorted(set(claims.values()))
    listing_t = Listing.__table__
    held_now: dict[str, int] = dict.fromkeys(members, 0)
    for chunk in chunked(members):
        for member_id, count in session.connection().execute(
            select(listing_t.c.lone_member, func.count())
            .where(listing_t.c.lone_member.in_(list(chunk)))
            .group_by(listing_t.c.lone_member)
        ):
            held_now[member_id] = int(count)
    for ident, old in existing.items():  # listings of this chunk a member lets go
        before = old[_LONE]
        if before in held_now and ident in results and results[ident].lone_member != before:
            held_now[before] -= 1
    for ident in sorted(claims):
        member_id = claims[ident]
        if held_now[member_id] < policy.lone_warn_per_member:
            held_now[member_id] += 1
            continue
        results[ident] = merge(
            views.get(ident, []), weights, policy, now,
            admin_allowlisted=ident in admin_allowed, held=ident in held_ids,
            lone_allowed=False,
        )


def remerge_due(
    session: Session, now: datetime, *, policy: MergePolicy, limit: int | None = None
) -> int:
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
        recompute(session, due, now, policy=policy)
        done += len(due)
        after = due[-1]
    return done
