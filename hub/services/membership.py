"""The member lifecycle (docs/ARCHITECTURE.md §3): apply, approve/reject, suspend/reinstate, revoke.

Allowed transitions are one table; anything else is a 409 naming the current
state. Leaving or re-entering `approved` changes the member's merge weight, so
its listings are marked due for review (`listings.mark_member_listings`).
Every change is recorded in the audit log with the acting admin.

Identity reuse (issue 13, item 6): one live (pending, approved, suspended)
member per key and per registration number — checked here and enforced by
partial unique indexes, so concurrent applications cannot both win. A
re-application from a key or registration number an earlier (rejected or
revoked) member used is accepted, flagged (`reapplication_of`,
`identity_history`) and, if approved, inherits the earlier standing: weight,
delistings, dispute standing and the overturned reports that bar re-reporting
(`_carry_over`). A member rotates its own key in place (`rotate_key`), so its
standing, which hangs on the member id, survives.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, or_, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.member import LIVE_STATES, Member, registration_key
from hub.models.report import MemberStanding, Report
from hub.services import audit, groups
from hub.services.listings import mark_member_listings
from schemas.enums import MemberState, ReportState
from schemas.keys import MEMBER_KEY_ROTATION_CONTEXT, b64decode, key_id
from schemas.timefmt import format_time, utcnow

HISTORY_LIMIT = 50

MEMBER_ID_PREFIX = "mbr_"

# action -> (states it may start from, resulting state, reason required)
TRANSITIONS: dict[str, tuple[frozenset[MemberState], MemberState, bool]] = {
    "approve": (frozenset({MemberState.PENDING}), MemberState.APPROVED, False),
    "reject": (frozenset({MemberState.PENDING}), MemberState.REJECTED, True),
    "suspend": (frozenset({MemberState.APPROVED}), MemberState.SUSPENDED, True),
    "reinstate": (frozenset({MemberState.SUSPENDED}), MemberState.APPROVED, False),
    "revoke": (
        frozenset({MemberState.PENDING, MemberState.APPROVED, MemberState.SUSPENDED}),
        MemberState.REVOKED,
        True,
    ),
}


PAST_TENSE = {
    "approve": "approved",
    "reject": "rejected",
    "suspend": "suspended",
    "reinstate": "reinstated",
    "revoke": "revoked",
}


def new_member_id() -> str:
    return MEMBER_ID_PREFIX + secrets.token_hex(8)


def identity_in_use(field: str) -> ApiError:
    """409 for an application or key rotation that would make a second live membership."""
    what = "public key" if field == "public_key" else "registration number"
    return ApiError(
        409,
        "identity_in_use",
        f"a live membership already uses this {what}; one institution has one membership "
        "(rotate the key with POST /v1/members/me/key, or ask the hub admins)",
        fields={field: ["already used by a live membership"]},
    )


def _live_clash(session: Session, kid: str, reg_key: str) -> str | None:
    """The field (`public_key`/`registration_no`) a live member already holds, or None."""
    stmt = select(Member.key_id).where(
        Member.state.in_(LIVE_STATES), or_(Member.key_id == kid, Member.registration_key == reg_key)
    )
    for other_kid in session.scalars(stmt):
        return "public_key" if other_kid == kid else "registration_no"
    return None


def apply(session: Session, data: Mapping[str, Any]) -> Member:
    """Record an application (state `pending`); the id is the member id for life.

    409 `identity_in_use` when a live member has the key or registration number
    (the unique indexes catch a concurrent twin: the caller maps IntegrityError to
    the same answer). An earlier dead member with either is linked as
    `reapplication_of`: the admin sees its history before approving.
    """
    now = utcnow()
    public_key = data["public_key"]
    kid = key_id(b64decode(public_key))
    reg_key = registration_key(data["registration_no"].strip())
    clash = _live_clash(session, kid, reg_key)
    if clash:
        raise identity_in_use(clash)
    earlier = session.scalars(
        select(Member.id)
        .where(or_(Member.key_id == kid, Member.registration_key == reg_key))
        .order_by(Member.created_at.desc(), Member.id)
        .limit(1)
    ).first()
    member = Member(
        id=new_member_id(),
        name=data["name"].strip(),
        kind=str(data["kind"]),
        registration_no=data["registration_no"].strip(),
        registration_key=reg_key,
        contact_email=data["contact_email"],
        public_key=public_key,
        key_id=kid,
        reapplication_of=earlier,
        state=MemberState.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    session.flush()
    details: dict[str, Any] = {"kind": member.kind, "key_id": member.key_id}
    if earlier:
        details["reapplication_of"] = earlier
    audit.record(session, f"member:{member.id}", "member.apply", member.id, details)
    return member


def earlier_memberships(session: Session, member: Member) -> list[Member]:
    """Other members sharing this member's key or registration number, and theirs in
    turn (a chain of re-applications that changed one of the two), newest first."""
    seen: dict[str, Member] = {}
    keys, regs = {member.key_id}, {member.registration_key}
    while len(seen) < HISTORY_LIMIT:
        found = [
            m for m in session.scalars(
                select(Member).where(
                    or_(Member.key_id.in_(sorted(keys)), Member.registration_key.in_(sorted(regs))),
                    Member.id != member.id,
                ).limit(HISTORY_LIMIT)
            ) if m.id not in seen
        ]
        if not found:
            break
        for other in found:
            seen[other.id] = other
            keys.add(other.key_id)
            regs.add(other.registration_key)
    return sorted(seen.values(), key=lambda m: (m.created_at, m.id), reverse=True)


def _standings(session: Session, member_ids: list[str]) -> dict[str, MemberStanding]:
    if not member_ids:
        return {}
    rows = session.scalars(select(MemberStanding).where(MemberStanding.member_id.in_(member_ids)))
    return {row.member_id: row for row in rows}


def identity_history(session: Session, member: Member) -> list[dict[str, Any]]:
    """The earlier memberships an admin must see before approving a re-application:
    state and reason, dates, what matched, and the standing that would carry over."""
    earlier = earlier_memberships(session, member)
    standings = _standings(session, [m.id for m in earlier])
    overturned = dict(
        session.execute(
            select(Report.member_id, func.count())
            .where(Report.member_id.in_([m.id for m in earlier]),
                   Report.state == ReportState.OVERTURNED.value)
            .group_by(Report.member_id)
        ).all()
    ) if earlier else {}
    history = []
    for other in earlier:
        standing = standings.get(other.id)
        matched = [
            name for name, same in (
                ("public_key", other.key_id == member.key_id),
                ("registration_no", other.registration_key == member.registration_key),
            ) if same
        ]
        history.append({
            "id": other.id,
            "name": other.name,
            "registration_no": other.registration_no,
            "key_id": other.key_id,
            "state": other.state,
            "state_reason": other.state_reason,
            "created_at": format_time(other.created_at),
            "approved_at": format_time(other.approved_at) if other.approved_at else None,
            "updated_at": format_time(other.updated_at),
            "matched": matched,
            "weight": standing.weight if standing else 1.0,
            "delisted_count": standing.delisted_count if standing else 0,
            "dispute_weight": standing.dispute_weight if standing else 1.0,
            "dismissed_count": standing.dismissed_count if standing else 0,
            "overturned_reports": int(overturned.get(other.id, 0)),
        })
    return history


def _carry_over(session: Session, member: Member, actor: str, now: datetime) -> None:
    """On approving a re-application: the worst earlier standing becomes the member's
    (lowest weights, most delistings and dismissed disputes), and the earlier
    members' overturned reports are copied to it as overturned, so ingest refuses
    re-reporting those numbers exactly as for the earlier member."""
    earlier = [m.id for m in earlier_memberships(session, member)]
    if not earlier:
        return
    standings = list(_standings(session, earlier).values())
    standing = session.get(MemberStanding, member.id)
    if standing is None:
        standing = MemberStanding(member_id=member.id, weight=1.0, delisted_count=0,
                                  dispute_weight=1.0, dismissed_count=0, updated_at=now)
        session.add(standing)
    for old in standings:
        standing.weight = min(standing.weight, old.weight)
        standing.delisted_count = max(standing.delisted_count, old.delisted_count)
        standing.dispute_weight = min(standing.dispute_weight, old.dispute_weight)
        standing.dismissed_count = max(standing.dismissed_count, old.dismissed_count)
    standing.updated_at = now
    reports = Report.__table__  # a pending member has no reports of its own yet
    source = (
        select(
            literal(member.id), reports.c.indicator_id, reports.c.category,
            func.min(reports.c.confidence), func.min(reports.c.first_seen),
            func.max(reports.c.last_seen), func.max(reports.c.expires_at),
            func.max(reports.c.key_epoch), literal(ReportState.OVERTURNED.value), literal(now),
        )
        .where(reports.c.member_id.in_(earlier),
               reports.c.state == ReportState.OVERTURNED.value)
        .group_by(reports.c.indicator_id, reports.c.category)
    )
    copied = session.execute(
        insert(reports).from_select(
            ["member_id", "indicator_id", "category", "confidence", "first_seen", "last_seen",
             "expires_at", "key_epoch", "state", "updated_at"],
            source,
        )
    ).rowcount
    session.flush()
    audit.record(session, actor, "member.standing_carried", member.id, {
        "from": earlier, "weight": f"{standing.weight:g}",
        "delisted_count": standing.delisted_count,
        "dispute_weight": f"{standing.dispute_weight:g}", "overturned_reports": copied,
    })


def rotate_key(
    session: Session, member: Member, public_key: str, proof: bytes, actor: str
) -> Member:
    """Replace the member's key in place (signed with the old key; `proof` is the new
    key's signature over `MEMBER_KEY_ROTATION_CONTEXT + member id`): same member id, so weight,
    delistings and dispute standing stay. 409 when any other member used the key."""
    from schemas.membership import load_ed25519_public_key

    new_key = load_ed25519_public_key(public_key)
    try:
        new_key.verify(proof, MEMBER_KEY_ROTATION_CONTEXT + member.id.encode())
    except Exception:  # noqa: BLE001 - InvalidSignature: the caller does not hold the key
        raise ApiError(
            422, "validation_error", "invalid input: proof",
            {"proof": ["must be the new key's signature over the rotation statement"]},
        ) from None
    kid = key_id(b64decode(public_key))
    if kid == member.key_id:
        raise ApiError(422, "validation_error", "invalid input: public_key",
                       {"public_key": ["is already this member's key"]})
    used = session.scalar(select(func.count()).select_from(Member).where(
        Member.key_id == kid, Member.id != member.id))
    if used:
        raise identity_in_use("public_key")
    old_kid = member.key_id
    member.public_key = public_key
    member.key_id = kid
    member.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "member.rotate_key", member.id, {"from": old_kid, "to": kid})
    return member


def get_member(session: Session, member_id: str) -> Member:
    member = session.get(Member, member_id) if len(member_id) <= 20 else None
    if member is None:
        raise ApiError(404, "not_found", f"no member {member_id}")
    return member


def transition(
    session: Session, member_id: str, action: str, actor: str, reason: str | None = None,
    *, case_max_group_joins: int = groups.DEFAULT_MAX_JOINS,
) -> Member:
    """Apply `action` to a member; 409 `illegal_transition` from a wrong state."""
    if action not in TRANSITIONS:
        raise ApiError(404, "not_found", f"unknown member action {action!r}")
    sources, target, needs_reason = TRANSITIONS[action]
    if needs_reason and not (reason and reason.strip()):
        raise ApiError(
            422, "validation_error", f"{action} needs a reason", fields={"reason": ["required"]}
        )
    stmt = select(Member).where(Member.id == member_id).with_for_update()
    member = session.scalars(stmt).first() if len(member_id) <= 20 else None
    if member is None:
        raise ApiError(404, "not_found", f"no member {member_id}")
    if member.state not in sources:
        allowed = " or ".join(sorted(s.value for s in sources))
        raise ApiError(
            409,
            "illegal_transition",
            f"member {member.id} is {member.state}; only a {allowed} member can be "
            f"{PAST_TENSE[action]}",
            fields={"state": [member.state]},
        )
    previous = member.state
    now = utcnow()
    member.state = target.value
    member.state_reason = reason
    member.updated_at = now
    if target == MemberState.APPROVED and member.approved_at is None:
        member.approved_at = now
    if action == "approve":
        _carry_over(session, member, actor, now)
    if MemberState.APPROVED.value in (previous, target.value) and previous != target.value:
        # The member's merge weight changed (0 unless approved): its listings are
        # re-merged by the next `remerge_due`, not inline (it may have millions).
        session.flush()
        mark_member_listings(session, member.id, now)
        # Its cases stop (or start again) linking and corroborating complaint groups.
        groups.member_changed(session, member.id, now, case_max_group_joins)
    details: dict[str, Any] = {"from": previous, "to": target.value}
    if reason:
        details["reason"] = reason
    audit.record(session, actor, f"member.{action}", member.id, details)
    return member


def list_members(
    session: Session, state: MemberState | None, limit: int, offset: int
) -> tuple[list[Member], int]:
    stmt = select(Member)
    count = select(func.count()).select_from(Member)
    if state is not None:
        stmt = stmt.where(Member.state == state.value)
        count = count.where(Member.state == state.value)
    stmt = stmt.order_by(Member.created_at, Member.id).limit(limit).offset(offset)
    return list(session.scalars(stmt)), int(session.scalar(count) or 0)


def member_to_dict(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "kind": member.kind,
        "registration_no": member.registration_no,
        "contact_email": member.contact_email,
        "public_key": member.public_key,
        "key_id": member.key_id,
        "state": member.state,
        "state_reason": member.state_reason,
        "created_at": format_time(member.created_at),
        "updated_at": format_time(member.updated_at),
        "approved_at": format_time(member.approved_at) if member.approved_at else None,
        "reapplication_of": member.reapplication_of,
    }
