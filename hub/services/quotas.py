"""Per-member quotas and feed ceilings (issue 13, item 5: quota-free flooding).

Three bounds keep one member from growing the shared feeds without limit:

1. **New indicators per UTC day** (`LIANFANG_QUOTA_NEW_INDICATORS_PER_DAY`):
   `charge_new_indicators` counts the values of a batch the hub has never seen
   and refuses the whole batch with 429 `quota_exceeded` (limit, used, requested,
   reset time, `Retry-After`) when they would pass the member's quota. Reports on
   indicators the hub already knows are free: agreeing with other members is
   the point of the hub and cannot grow a feed by itself.
2. **Lone warn listings per member** (`LIANFANG_POLICY_LONE_WARN_PER_MEMBER`):
   enforced by the re-merge (`remerge`, `Listing.lone_member`); `lone_warn_counts`
   reads them for the console.
3. **Feed ceiling** (`LIANFANG_FEED_MAX_ENTRIES`): enforced by the feed builder;
   `feed_ceilings` reads each feed's size against it for the console and metrics.

Sits beside `listings`/`remerge` in the services layers: ingest calls it once,
the console and metrics only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.feed import FeedState
from hub.models.listing import Listing
from hub.models.member import Member
from hub.models.quota import QuotaUsage
from hub.services.indicators import load_indicator_ids
from schemas.timefmt import format_time

QUOTA_NEW_INDICATORS = "new_indicators_per_day"


def day_of(now: datetime) -> str:
    """The quota day (UTC calendar day) of `now`, as stored in `quota_usage.day`."""
    return now.date().isoformat()


def resets_at(now: datetime) -> datetime:
    """When the quota day of `now` ends: the next UTC midnight."""
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


def _locked_usage(session: Session, member_id: str, day: str, now: datetime) -> QuotaUsage:
    """The member's counter row for `day`, created if missing and locked for this
    transaction (`FOR UPDATE` on PostgreSQL; SQLite has one writer), so two
    concurrent batches of one member are counted one after the other."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(
        dialect_insert(QuotaUsage.__table__)
        .values(member_id=member_id, day=day, new_indicators=0, updated_at=now)
        .on_conflict_do_nothing()
    )
    stmt = (
        select(QuotaUsage)
        .where(QuotaUsage.member_id == member_id, QuotaUsage.day == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one()


def charge_new_indicators(
    session: Session,
    member_id: str,
    keys: Iterable[tuple[str, str]],
    now: datetime,
    *,
    per_day: int,
) -> int:
    """Count the batch's values new to the hub against the member's daily quota.

    Returns how many were charged. Raises 429 `quota_exceeded` — nothing of the
    batch is stored — when `used + new > per_day`; the member can send fewer new
    values now (the error says how many remain) or the rest after `resets_at`.
    `per_day = 0` turns the quota off. A value another member stores between
    this count and the insert is charged anyway: the error is on the safe side.
    """
    if per_day <= 0:
        return 0
    wanted = list(dict.fromkeys(keys))
    known = load_indicator_ids(session, wanted)
    new = sum(1 for key in wanted if key not in known)
    if new == 0:
        return 0
    day = day_of(now)
    usage = _locked_usage(session, member_id, day, now)
    used = usage.new_indicators
    if used + new > per_day:
        reset = resets_at(now)
        retry_after = max(1, int((reset - now).total_seconds()))
        remaining = max(0, per_day - used)
        raise ApiError(
            429,
            "quota_exceeded",
            f"quota {QUOTA_NEW_INDICATORS} exceeded: this batch names {new} indicators new "
            f"to the hub, {used} of {per_day} are used today ({remaining} remain); "
            f"the quota resets at {format_time(reset)}",
            fields={"reports": [f"at most {remaining} new indicators until {format_time(reset)}"]},
            headers={"Retry-After": str(retry_after)},
            details={
                "quota": QUOTA_NEW_INDICATORS,
                "limit": per_day,
                "used": used,
                "requested": new,
                "remaining": remaining,
                "resets_at": format_time(reset),
            },
        )
    usage.new_indicators = used + new
    usage.updated_at = now
    session.flush()
    return new


def usage_on(session: Session, day: str) -> dict[str, int]:
    """member id → new indicators charged on `day`."""
    rows = session.execute(
        select(QuotaUsage.member_id, QuotaUsage.new_indicators).where(QuotaUsage.day == day)
    )
    return {member_id: int(count) for member_id, count in rows}


def lone_warn_counts(session: Session) -> dict[str, int]:
    """member id → listings its reports alone hold at warn (`Listing.lone_member`)."""
    rows = session.execute(
        select(Listing.lone_member, func.count())
        .where(Listing.lone_member.is_not(None))
        .group_by(Listing.lone_member)
    )
    return {member_id: int(count) for member_id, count in rows}


@dataclass(frozen=True)
class FeedCeiling:
    """One feed's size against `LIANFANG_FEED_MAX_ENTRIES`.

    `level`: `ok`; `near` (at or above the alert fraction); `held` (a build was
    refused because it would pass the ceiling: the feed stays at its version).
    """

    feed: str
    entries: int
    max_entries: int
    refused_entries: int | None
    refused_at: datetime | None
    level: str

    @property
    def percent(self) -> float:
        return round(100.0 * self.entries / self.max_entries, 1) if self.max_entries else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "entries": self.entries,
            "max_entries": self.max_entries,
            "percent": self.percent,
            "refused_entries": self.refused_entries,
            "refused_at": format_time(self.refused_at) if self.refused_at else None,
            "level": self.level,
        }


def ceiling_level(entries: int, refused: int | None, max_entries: int, fraction: float) -> str:
    """`held`, `near` or `ok` (see `FeedCeiling`)."""
    if refused is not None:
        return "held"
    if entries >= fraction * max_entries:
        return "near"
    return "ok"


def feed_ceilings(session: Session, max_entries: int, fraction: float) -> list[FeedCeiling]:
    """Every built feed's size against the ceiling, by feed name."""
    rows = session.execute(
        select(FeedState.feed, FeedState.entry_count, FeedState.refused_entries,
               FeedState.refused_at).order_by(FeedState.feed)
    )
    return [
        FeedCeiling(
            feed=feed, entries=int(entries or 0), max_entries=max_entries,
            refused_entries=None if refused is None else int(refused), refused_at=refused_at,
            level=ceiling_level(int(entries or 0), refused, max_entries, fraction),
        )
        for feed, entries, refused, refused_at in rows
    ]


OVERVIEW_MEMBERS = 200


def quota_overview(
    session: Session,
    now: datetime,
    *,
    per_day: int,
    lone_warn_per_member: int,
    max_entries: int,
    alert_fraction: float,
) -> dict[str, Any]:
    """What admins watch (API `GET /v1/admin/quotas`, console `/console/quotas`): each
    member's quota use today and lone warn listings against their bounds (the
    `OVERVIEW_MEMBERS` heaviest users), and each feed's size against the ceiling."""
    day = day_of(now)
    used = usage_on(session, day)
    lone = lone_warn_counts(session)
    heaviest = sorted(set(used) | set(lone), key=lambda m: (-used.get(m, 0), -lone.get(m, 0), m))
    heaviest = heaviest[:OVERVIEW_MEMBERS]
    names = dict(
        session.execute(select(Member.id, Member.name).where(Member.id.in_(heaviest))).all()
    ) if heaviest else {}
    members = [
        {
            "member_id": member_id,
            "name": names.get(member_id, ""),
            "new_indicators_today": used.get(member_id, 0),
            "new_indicators_limit": per_day,
            "lone_warn_listings": lone.get(member_id, 0),
            "lone_warn_limit": lone_warn_per_member,
        }
        for member_id in heaviest
    ]
    return {
        "day": day,
        "resets_at": format_time(resets_at(now)),
        "members": members,
        "feeds": [f.as_dict() for f in feed_ceilings(session, max_entries, alert_fraction)],
    }
