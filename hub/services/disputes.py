"""Disputes (DESIGN §4): challenge a listing; the admin upholds or delists it.

While a dispute is open the indicator is `held` (kept out of block). Delisting
marks the indicator's active non-legit reports overturned and halves the weight
of every member that made them, so a member that keeps listing legitimate
numbers counts for less everywhere. Only the disputed indicator is re-merged
inline; the penalised members' other listings are marked due
(`listings.mark_member_listings`) and re-merged by `remerge_due` before the
next feed build, so one resolution never re-merges millions of rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.dispute import Dispute
from hub.models.indicator import Indicator
from hub.models.report import MemberStanding, Report
from hub.services import audit
from hub.services.indicators import find_indicator
from hub.services.listings import mark_member_listings
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.enums import Category, DisputeState, ReportState
from schemas.timefmt import format_time, utcnow

DELIST_WEIGHT_FACTOR = 0.5


def open_dispute(
    session: Session,
    kind: str,
    value: str,
    reason: str,
    *,
    policy: MergePolicy,
    max_open_per_member: int,
    member_id: str | None = None,
    admin: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a dispute on a known indicator; 404 if unknown, 409 if one is already open
    (or when the member already has `max_open_per_member` open disputes)."""
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    if indicator is None:
        raise ApiError(404, "not_found", "the hub has no listing for this indicator")
    if member_id is not None:
        _check_open_cap(session, member_id, max_open_per_member)
    existing = session.scalars(
        select(Dispute).where(
            Dispute.indicator_id == indicator.id, Dispute.state == DisputeState.OPEN.value
        )
    ).first()
    if existing is not None:
        raise ApiError(
            409, "dispute_open", f"dispute {existing.id} is already open for this indicator"
        )
    dispute = Dispute(
        indicator_id=indicator.id,
        opened_by_member=member_id,
        opened_by_admin=admin,
        reason=reason,
        state=DisputeState.OPEN.value,
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    recompute(session, [indicator.id], now, policy=policy)
    actor = f"member:{member_id}" if member_id else (admin or "admin")
    # The reason is free text from a member: kept on the dispute, not copied into the log.
    audit.record(
        session, actor, "dispute.open", f"dispute:{dispute.id}", {"indicator_id": indicator.id}
    )
    return dispute_view(dispute, indicator)


def _check_open_cap(session: Session, member_id: str, cap: int) -> None:
    """409 `too_many_open_disputes` at the cap: every open dispute holds an indicator out
    of `block`, so one member opening thousands would unblock them wholesale (and
    flood the admin queue). 409, not 429: waiting does not help, a resolution does.
    `cap` is `LIANFANG_MAX_OPEN_DISPUTES_PER_MEMBER`."""
    count = session.scalar(
        select(func.count())
        .select_from(Dispute)
        .where(Dispute.opened_by_member == member_id, Dispute.state == DisputeState.OPEN.value)
    )
    if int(count or 0) >= cap:
        raise ApiError(
            409,
            "too_many_open_disputes",
            f"this member already has {cap} open disputes; wait for the association to "
            "resolve some before opening more",
        )


def dispute_view(dispute: Dispute, indicator: Indicator) -> dict[str, Any]:
    return {
        "id": dispute.id,
        "kind": indicator.kind,
        "value": indicator.value,
        "state": dispute.state,
        "reason": dispute.reason,
        "opened_by": "member" if dispute.opened_by_member else "admin",
        "resolution_reason": dispute.resolution_reason,
        "resolved_by": dispute.resolved_by,
        "created_at": format_time(dispute.created_at),
        "resolved_at": format_time(dispute.resolved_at) if dispute.resolved_at else None,
    }


def list_disputes(
    session: Session, state: str | None = None, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    stmt = select(Dispute, Indicator).join(Indicator, Indicator.id == Dispute.indicator_id)
    if state:
        stmt = stmt.where(Dispute.state == state)
    rows = session.execute(stmt.order_by(Dispute.id).limit(limit).offset(offset)).all()
    return [dispute_view(dispute, indicator) for dispute, indicator in rows]


def resolve(
    session: Session,
    dispute_id: int,
    resolution: str,
    reason: str,
    *,
    actor: str,
    policy: MergePolicy,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`uphold` keeps the listing (the hold ends); `delist` overturns its reports."""
    now = now or utcnow()
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise ApiError(404, "not_found", f"no dispute {dispute_id}")
    if dispute.state != DisputeState.OPEN.value:
        raise ApiError(409, "dispute_closed", f"dispute {dispute_id} is already {dispute.state}")
    dispute.state = (
        DisputeState.UPHELD.value if resolution == "uphold" else DisputeState.DELISTED.value
    )
    dispute.resolution_reason = reason
    dispute.resolved_by = actor
    dispute.resolved_at = now
    session.flush()
    penalised: list[str] = []
    if dispute.state == DisputeState.DELISTED.value:
        penalised = _overturn(session, dispute.indicator_id, now)
        for member_id in penalised:
            # Lower weight everywhere: re-merged by the next `remerge_due`, not inline.
            mark_member_listings(session, member_id, now)
    changed = recompute(session, [dispute.indicator_id], now, policy=policy)
    audit.record(
        session,
        actor,
        f"dispute.{dispute.state}",
        f"dispute:{dispute.id}",
        {"reason": reason, "members_penalised": len(penalised), "listings_changed": changed},
    )
    indicator = session.get(Indicator, dispute.indicator_id)
    assert indicator is not None
    return dispute_view(dispute, indicator)


def _overturn(session: Session, indicator_id: int, now: datetime) -> list[str]:
    """Overturn the indicator's active bad reports; lower their members' weight."""
    rows = session.execute(
        select(Report.id, Report.member_id).where(
            Report.indicator_id == indicator_id,
            Report.state == ReportState.ACTIVE.value,
            Report.category != Category.LEGIT.value,
        )
    ).all()
    if not rows:
        return []
    session.execute(
        update(Report),
        [{"id": rid, "state": ReportState.OVERTURNED.value, "updated_at": now} for rid, _ in rows],
    )
    members = sorted({member_id for _, member_id in rows})
    standings = {
        s.member_id: s
        for s in session.scalars(
            select(MemberStanding).where(MemberStanding.member_id.in_(members))
        )
    }
    for member_id in members:
        standing = standings.get(member_id)
        if standing is None:
            standing = MemberStanding(
                member_id=member_id, weight=1.0, delisted_count=0, updated_at=now
            )
            session.add(standing)
        standing.weight = round(standing.weight * DELIST_WEIGHT_FACTOR, 6)
        standing.delisted_count += 1
        standing.updated_at = now
    session.flush()
    return members
