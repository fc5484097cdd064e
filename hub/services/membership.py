"""The member lifecycle (docs/ARCHITECTURE.md §3): apply, approve/reject, suspend/reinstate, revoke.

Allowed transitions are one table; anything else is a 409 naming the current
state. Leaving or re-entering `approved` changes the member's merge weight, so
its listings are marked due for review (`listings.mark_member_listings`).
Every change is recorded in the audit log with the acting admin.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.member import Member
from hub.services import audit, groups
from hub.services.listings import mark_member_listings
from schemas.enums import MemberState
from schemas.keys import b64decode, key_id
from schemas.timefmt import format_time, utcnow

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


def apply(session: Session, data: Mapping[str, Any]) -> Member:
    """Record an application (state `pending`); the id is the member id for life."""
    now = utcnow()
    public_key = data["public_key"]
    member = Member(
        id=new_member_id(),
        name=data["name"].strip(),
        kind=str(data["kind"]),
        registration_no=data["registration_no"].strip(),
        contact_email=data["contact_email"],
        public_key=public_key,
        key_id=key_id(b64decode(public_key)),
        state=MemberState.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    session.flush()
    audit.record(
        session,
        f"member:{member.id}",
        "member.apply",
        member.id,
        {"kind": member.kind, "key_id": member.key_id},
    )
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
    }
