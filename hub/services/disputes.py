"""Disputes (docs/ARCHITECTURE.md §4): challenge a listing; the admin upholds or delists it.

While a dispute is open the indicator is `held` (kept out of block). Delisting
marks the indicator's active non-legit reports overturned and halves the weight
of every member that made them, so a member that keeps listing legitimate
numbers counts for less everywhere. Only the disputed indicator is re-merged
inline; the penalised members' other listings are marked due
(`listings.mark_member_listings`) and re-merged by `remerge_due` before the
next feed build, so one resolution never re-merges millions of rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.dispute import Dispute
from hub.models.indicator import Indicator
from hub.models.member import Member
from hub.models.report import MemberStanding, Report
from hub.services import audit, webhooks
from hub.services.consortium_keys import epoch_states
from hub.services.indicators import find_indicator, require_indicators
from hub.services.listings import mark_member_listings
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.enums import Category, DisputeState, ReportState
from schemas.reports import MEMBER_DISPUTE_RECEIVED
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
    cooloff_days: int,
    member_id: str | None = None,
    admin: str | None = None,
    evidence: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a dispute. For an admin: 404 if the indicator is unknown, 409 if a dispute
    is already open. For a member the answer never depends on other members' data
    (docs/THREAT_MODEL.md, complaint-group abuse): an unknown value is stored and
    disputed like a known one (it holds nothing: nothing lists it), and a value
    someone else already disputes gets a `pending` dispute for the admin to review,
    instead of a 404 or 409 that would tell which values other banks filed. 409
    `too_many_open_disputes` at the member's own cap.

    A member whose dispute on this indicator an admin upheld within the cool-off
    (`dispute_cooloff_days`) gets 409 `dispute_cooling_off`, unless it brings new
    `evidence`: then the dispute is `pending` — it holds nothing until an admin
    accepts it (delists) — so reopening after every uphold cannot keep a number at warn.
    """
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    if indicator is None and member_id is not None:
        ident = require_indicators(session, [(kind, value, _newest_epoch(session))], "value")
        indicator = session.get(Indicator, ident[(kind, value)])
    if indicator is None:
        raise ApiError(404, "not_found", "the hub has no listing for this indicator")
    state = DisputeState.OPEN.value
    if member_id is not None:
        _check_open_cap(session, member_id, max_open_per_member)
        cooling_until = _cooling_off_until(session, member_id, indicator.id, now, cooloff_days)
        if cooling_until is not None:
            if not evidence.strip():
                raise ApiError(
                    409, "dispute_cooling_off",
                    "an admin upheld your dispute on this listing; you may dispute it again "
                    f"after {format_time(cooling_until)}, or now with new evidence "
                    "for an admin to accept",
                    fields={"evidence": ["required during the cool-off"]},
                )
            state = DisputeState.PENDING.value
    existing = session.scalars(
        select(Dispute).where(
            Dispute.indicator_id == indicator.id,
            Dispute.state.in_([DisputeState.OPEN.value, DisputeState.PENDING.value]),
        )
    ).first()
    if existing is not None:
        if member_id is None:
            raise ApiError(
                409, "dispute_open", f"dispute {existing.id} is already open for this indicator"
            )
        state = DisputeState.PENDING.value  # a second opinion for the admin; holds nothing
    dispute = Dispute(
        indicator_id=indicator.id,
        opened_by_member=member_id,
        opened_by_admin=admin,
        reason=reason,
        evidence=evidence,
        state=state,
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


DISMISS_WEIGHT_FACTOR = 0.5


def _newest_epoch(session: Session) -> int:
    """The epoch an indicator first heard of through a dispute is stored under
    (informational, like `Indicator.key_epoch` always is)."""
    return max(epoch_states(session), default=1)


def member_receipt(view: dict[str, Any]) -> dict[str, Any]:
    """What a member's `POST /v1/disputes` answers: its own dispute, `received`, in one
    shape whether the value was listed, unknown or already disputed by another bank."""
    return {
        "id": view["id"],
        "kind": view["kind"],
        "value": view["value"],
        "state": MEMBER_DISPUTE_RECEIVED,
        "reason": view["reason"],
        "evidence": view["evidence"],
        "created_at": view["created_at"],
    }


def _cooling_off_until(
    session: Session, member_id: str, indicator_id: int, now: datetime, cooloff_days: int
) -> datetime | None:
    """When the member's cool-off on this listing ends (`LIANFANG_DISPUTE_COOLOFF_DAYS`
    after an admin upheld its last dispute on it), or None when it is not cooling off."""
    last = session.scalar(
        select(func.max(Dispute.resolved_at)).where(
            Dispute.indicator_id == indicator_id,
            Dispute.opened_by_member == member_id,
            Dispute.state == DisputeState.UPHELD.value,
        )
    )
    until = None if last is None else last + timedelta(days=cooloff_days)
    return until if until is not None and until > now else None


def _check_open_cap(session: Session, member_id: str, cap: int) -> None:
    """409 `too_many_open_disputes` at the cap: every open dispute holds an indicator out
    of `block`, so one member opening thousands would unblock them wholesale (and
    flood the admin queue). 409, not 429: waiting does not help, a resolution does.
    `cap` is `LIANFANG_MAX_OPEN_DISPUTES_PER_MEMBER`, scaled by the member's dispute
    standing (dismissed disputes lower it)."""
    standing = session.get(MemberStanding, member_id)
    standing_weight = standing.dispute_weight if standing is not None else 1.0
    cap = max(1, math.floor(cap * standing_weight))
    count = session.scalar(
        select(func.count())
        .select_from(Dispute)
        .where(
            Dispute.opened_by_member == member_id,
            Dispute.state.in_([DisputeState.OPEN.value, DisputeState.PENDING.value]),
        )
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
        "evidence": dispute.evidence or "",
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
    openers = _opener_names(session, {d.opened_by_member for d, _ in rows} - {None})
    return [
        {
            **dispute_view(dispute, indicator),
            "opened_by_member": dispute.opened_by_member,
            "opened_by_institution": openers.get(dispute.opened_by_member or ""),
        }
        for dispute, indicator in rows
    ]


def member_disputes(
    session: Session, member_id: str, state: str | None = None, *, limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The disputes this member opened (the member view: no other member's names, and
    undecided disputes all `received`, as `member_receipt` answered them)."""
    undecided = (DisputeState.OPEN.value, DisputeState.PENDING.value)
    stmt = (
        select(Dispute, Indicator)
        .join(Indicator, Indicator.id == Dispute.indicator_id)
        .where(Dispute.opened_by_member == member_id)
    )
    if state == MEMBER_DISPUTE_RECEIVED:
        stmt = stmt.where(Dispute.state.in_(undecided))
    elif state:
        stmt = stmt.where(Dispute.state == state)
    rows = session.execute(stmt.order_by(Dispute.id).limit(limit).offset(offset)).all()
    views = [dispute_view(dispute, indicator) for dispute, indicator in rows]
    for view in views:
        if view["state"] in undecided:
            view["state"] = MEMBER_DISPUTE_RECEIVED
    return views


def _opener_names(session: Session, member_ids: set[str | None]) -> dict[str, str]:
    """Institution names for the admin view: admins must see who disputes what."""
    ids = sorted(m for m in member_ids if m)
    if not ids:
        return {}
    return dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all())


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
    if dispute.state not in (DisputeState.OPEN.value, DisputeState.PENDING.value):
        raise ApiError(409, "dispute_closed", f"dispute {dispute_id} is already {dispute.state}")
    opened_at = dispute.created_at
    dispute.state = (
        DisputeState.UPHELD.value if resolution == "uphold" else DisputeState.DELISTED.value
    )
    dispute.resolution_reason = reason
    dispute.resolved_by = actor
    dispute.resolved_at = now
    session.flush()
    penalised: list[str] = []
    if dispute.state == DisputeState.DELISTED.value:
        penalised = _overturn(session, dispute.indicator_id, opened_at, now)
        for member_id in penalised:
            # Lower weight everywhere: re-merged by the next `remerge_due`, not inline.
            mark_member_listings(session, member_id, now)
    elif dispute.opened_by_member is not None:
        _lower_dispute_standing(session, dispute.opened_by_member, now)
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
    _emit_decision(session, dispute, indicator, penalised, now)
    return dispute_view(dispute, indicator)


def _emit_decision(
    session: Session, dispute: Dispute, indicator: Indicator, penalised: list[str], now: datetime
) -> None:
    """Webhook events in the decision's transaction: the opener and every member that
    reported the indicator learn the outcome; penalised members their new weight."""
    concerned = set(session.scalars(
        select(Report.member_id).where(Report.indicator_id == indicator.id).distinct()
    ))
    if dispute.opened_by_member is not None:
        concerned.add(dispute.opened_by_member)
    data = {"dispute_id": dispute.id, "state": dispute.state, "kind": indicator.kind,
            "value": indicator.value}
    events = [(member, webhooks.EVENT_DISPUTE, data) for member in sorted(concerned)]
    for member_id in penalised:
        standing = session.get(MemberStanding, member_id)
        weight = standing.weight if standing is not None else 1.0
        events.append((member_id, webhooks.EVENT_WEIGHT, {"weight": weight}))
    webhooks.emit(session, events, now)


def _lower_dispute_standing(session: Session, member_id: str, now: datetime) -> None:
    """A dismissed dispute halves the opener's dispute standing (its open-dispute cap)."""
    standing = session.get(MemberStanding, member_id)
    if standing is None:
        standing = MemberStanding(
            member_id=member_id, weight=1.0, delisted_count=0, dispute_weight=1.0,
            dismissed_count=0, updated_at=now,
        )
        session.add(standing)
    standing.dispute_weight = round(standing.dispute_weight * DISMISS_WEIGHT_FACTOR, 6)
    standing.dismissed_count += 1
    standing.updated_at = now
    session.flush()


def _overturn(
    session: Session, indicator_id: int, opened_at: datetime, now: datetime
) -> list[str]:
    """Overturn the indicator's bad reports — active ones, and ones retracted while the
    dispute was open (a retraction does not dodge the outcome) — and lower their
    members' weight."""
    rows = session.execute(
        select(Report.id, Report.member_id).where(
            Report.indicator_id == indicator_id,
            Report.category != Category.LEGIT.value,
            or_(
                Report.state == ReportState.ACTIVE.value,
                (Report.state == ReportState.RETRACTED.value) & (Report.updated_at >= opened_at),
            ),
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
