"""Disputes (DESIGN §4): challenge a listing; the admin upholds or delists it.

While a dispute is open the indicator is `held` (kept out of block). Delisting
marks the indicator's active non-legit reports overturned and halves the weight
of every member that made them, so a member that keeps listing legitimate
numbers counts for less everywhere; all their listings are re-merged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.dispute import Dispute
from hub.models.indicator import Indicator
from hub.models.report import MemberStanding, Report
from hub.services import audit
from hub.services.listings import find_indicator, recompute
from schemas.enums import Category
from schemas.timefmt import format_time, utcnow

OPEN = "open"
UPHELD = "upheld"
DELISTED = "delisted"
DELIST_WEIGHT_FACTOR = 0.5


def open_dispute(
    session: Session,
    kind: str,
    value: str,
    reason: str,
    *,
    member_id: str | None = None,
    admin: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a dispute on a known indicator; 404 if unknown, 409 if one is already open."""
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    if indicator is None:
        raise ApiError(404, "not_found", "the hub has no listing for this indicator")
    existing = session.scalars(
        select(Dispute).where(Dispute.indicator_id == indicator.id, Dispute.state == OPEN)
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
        state=OPEN,
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    recompute(session, [indicator.id], now)
    actor = f"member:{member_id}" if member_id else (admin or "admin")
    # The reason is free text from a member: kept on the dispute, not copied into the log.
    audit.record(
        session, actor, "dispute.open", f"dispute:{dispute.id}", {"indicator_id": indicator.id}
    )
    return dispute_view(dispute, indicator)


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
    now: datetime | None = None,
) -> dict[str, Any]:
    """`uphold` keeps the listing (the hold ends); `delist` overturns its reports."""
    now = now or utcnow()
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise ApiError(404, "not_found", f"no dispute {dispute_id}")
    if dispute.state != OPEN:
        raise ApiError(409, "dispute_closed", f"dispute {dispute_id} is already {dispute.state}")
    dispute.state = UPHELD if resolution == "uphold" else DELISTED
    dispute.resolution_reason = reason
    dispute.resolved_by = actor
    dispute.resolved_at = now
    session.flush()
    touched = {dispute.indicator_id}
    penalised: list[str] = []
    if dispute.state == DELISTED:
        penalised = _overturn(session, dispute.indicator_id, now)
        if penalised:
            touched.update(
                session.scalars(
                    select(Report.indicator_id)
                    .where(Report.member_id.in_(penalised), Report.state == "active")
                    .distinct()
                )
            )
    changed = recompute(session, touched, now)
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
            Report.state == "active",
            Report.category != Category.LEGIT.value,
        )
    ).all()
    if not rows:
        return []
    session.execute(
        update(Report),
        [{"id": rid, "state": "overturned", "updated_at": now} for rid, _ in rows],
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
