"""Verified institution numbers (号码认证, issue 16; docs/MEMBERS.md "Registering your numbers").

A member registers a number it calls from or answers on, with a display name and a
purpose; an admin verifies it. A verified number is put on the admin allowlist
(`hub.services.allowlist`, hashed under every epoch and again at each rotation), so
it beats block and warn in the feeds: fraudsters' reports on a bank's hotline cannot
get it blocked, and those reports show up on the admin's conflict list
(`allowlist.conflicts`) as possible spoofing or misuse instead of silently counting.

Who may claim what: anyone may *ask* (a squatter's pending claim must not lock the
real owner out), only an admin verifies, one member at a time holds a number
verified, and once it does other members' claims are refused (409) and pending ones
rejected. Members only ever see and withdraw their own registrations.

The number is sealed under the master key like `AllowlistNumber`; the audit log
carries registration ids and hashes, never the number.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.indicator import Indicator
from hub.models.member import Member
from hub.models.report import Report
from hub.models.verified_number import VerifiedNumber
from hub.services import allowlist, audit
from hub.services.consortium_keys import active_keys, current_key, seal, unseal
from hub.services.merge import MergePolicy
from schemas.enums import Category, IndicatorKind, ReportState
from schemas.indicators import InvalidIndicator, hash_normalized, normalize
from schemas.numbers import PURPOSE_LABELS_ZH, Decision, NumberState
from schemas.timefmt import format_time, utcnow

_AAD = b"lianfang-verified-number"
PHONE = IndicatorKind.PHONE.value


def _digest(wrap: bytes, canonical: str) -> str:
    return hmac.new(wrap, _AAD + b":" + canonical.encode(), hashlib.sha256).hexdigest()


def label(display_name: str, purpose: str) -> str:
    """What a screen shows for a verified number, e.g. `中国工商银行 客户服务`."""
    return f"{display_name} {PURPOSE_LABELS_ZH.get(purpose, purpose)}"


def _canonical(raw: str, region: str) -> str:
    try:
        return normalize(IndicatorKind.PHONE, raw, region)
    except InvalidIndicator as exc:
        raise ApiError(
            422, "validation_error", "invalid input: raw_number", {"raw_number": [str(exc)]}
        ) from None


def _holder(session: Session, digest: str) -> VerifiedNumber | None:
    """The registration that holds this number verified, if any."""
    return session.scalars(
        select(VerifiedNumber).where(
            VerifiedNumber.digest == digest, VerifiedNumber.state == NumberState.VERIFIED.value
        )
    ).first()


def _view(session: Session, row: VerifiedNumber, wrap: bytes) -> dict[str, Any]:
    number = unseal(wrap, row.nonce, row.ciphertext, _AAD).decode()
    epoch, key = current_key(session, wrap)
    return {
        "id": row.id,
        "number": number,
        "value": hash_normalized(IndicatorKind.PHONE, number, key),
        "key_epoch": epoch,
        "display_name": row.display_name,
        "purpose": row.purpose,
        "label": label(row.display_name, row.purpose),
        "state": row.state,
        "note": row.note,
        "created_at": format_time(row.created_at),
        "decided_at": format_time(row.decided_at) if row.decided_at else None,
    }


def register(
    session: Session, member_id: str, data: dict[str, Any], *, wrap: bytes,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record a member's claim (pending); `(view, created)`. The same member asking
    again for the same number gets its open registration back; a number another
    member holds verified is refused with 409 (without naming that member)."""
    now = now or utcnow()
    canonical = _canonical(data["raw_number"], data["region"])
    digest = _digest(wrap, canonical)
    holder = _holder(session, digest)
    if holder is not None and holder.member_id != member_id:
        raise ApiError(409, "number_verified_elsewhere",
                       "this number is verified for another institution; ask the association")
    mine = session.scalars(
        select(VerifiedNumber).where(
            VerifiedNumber.digest == digest, VerifiedNumber.member_id == member_id,
            VerifiedNumber.state.in_([NumberState.PENDING.value, NumberState.VERIFIED.value]),
        )
    ).first()
    if mine is not None:
        return _view(session, mine, wrap), False
    nonce, ciphertext = seal(wrap, canonical.encode(), _AAD)
    row = VerifiedNumber(
        member_id=member_id, digest=digest, nonce=nonce, ciphertext=ciphertext,
        display_name=data["display_name"], purpose=data["purpose"],
        state=NumberState.PENDING.value, note="", owns_allowlist=False, created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(session, f"member:{member_id}", "number.register", f"verified_number:{row.id}",
                 {"purpose": row.purpose})
    return _view(session, row, wrap), True


def _page(session: Session, query: Any, state: str | None, limit: int, offset: int) -> list:
    if state is not None:
        query = query.where(VerifiedNumber.state == state)
    return list(session.execute(
        query.order_by(VerifiedNumber.created_at, VerifiedNumber.id).limit(limit).offset(offset)
    ).all())


def member_numbers(
    session: Session, member_id: str, state: str | None, *, wrap: bytes, limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The calling member's own registrations, oldest first."""
    query = select(VerifiedNumber).where(VerifiedNumber.member_id == member_id)
    return [_view(session, row, wrap) for (row,) in _page(session, query, state, limit, offset)]


def admin_numbers(
    session: Session, state: str | None, *, wrap: bytes, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """All registrations with the registering member's name beside the display name it
    asked for, so an admin sees a `中国工商银行` claimed by some other institution."""
    query = select(VerifiedNumber, Member.name).join(Member, Member.id == VerifiedNumber.member_id)
    return [
        {**_view(session, row, wrap), "member_id": row.member_id, "member_name": name}
        for row, name in _page(session, query, state, limit, offset)
    ]


def _unallow(session: Session, row: VerifiedNumber, actor: str, policy: MergePolicy,
             wrap: bytes, now: datetime) -> None:
    """Take the number off the allowlist if verification put it there."""
    if row.owns_allowlist:
        _, key = current_key(session, wrap)
        number = unseal(wrap, row.nonce, row.ciphertext, _AAD).decode()
        allowlist.remove(session, PHONE, hash_normalized(IndicatorKind.PHONE, number, key),
                         actor=actor, policy=policy, wrap=wrap, now=now)
        row.owns_allowlist = False


def decide(
    session: Session, registration_id: int, decision: str, note: str, *, actor: str,
    policy: MergePolicy, wrap: bytes, now: datetime | None = None,
) -> dict[str, Any]:
    """An admin verifies or rejects a pending registration, or revokes a verified one
    (404 for an unknown id, 409 for a step the state does not allow)."""
    now = now or utcnow()
    row = session.get(VerifiedNumber, registration_id)
    if row is None:
        raise ApiError(404, "not_found", "no such number registration")
    allowed = {Decision.VERIFY: NumberState.PENDING, Decision.REJECT: NumberState.PENDING,
               Decision.REVOKE: NumberState.VERIFIED}[Decision(decision)]
    if row.state != allowed.value:
        raise ApiError(409, "invalid_state", f"a {row.state} registration cannot be {decision}d")
    if decision == Decision.VERIFY:
        holder = _holder(session, row.digest)
        if holder is not None:
            raise ApiError(409, "number_verified_elsewhere",
                           "this number is already verified for another registration")
        number = unseal(wrap, row.nonce, row.ciphertext, _AAD).decode()
        on_list = allowlist.has_number(session, wrap, number)
        allowlist.add(
            session, {"raw_number": number, "region": "CN",
                      "note": f"verified #{row.id}: {label(row.display_name, row.purpose)}"},
            actor=actor, policy=policy, wrap=wrap, now=now,
        )
        row.owns_allowlist = not on_list
        row.state = NumberState.VERIFIED.value
        others = session.execute(
            update(VerifiedNumber)
            .where(VerifiedNumber.digest == row.digest, VerifiedNumber.id != row.id,
                   VerifiedNumber.state == NumberState.PENDING.value)
            .values(state=NumberState.REJECTED.value, decided_by=actor, decided_at=now,
                    note="verified for another institution")
            .returning(VerifiedNumber.id)
        ).scalars().all()
    else:
        others = []
        if decision == Decision.REVOKE:
            _unallow(session, row, actor, policy, wrap, now)
        row.state = (NumberState.REJECTED if decision == Decision.REJECT
                     else NumberState.REVOKED).value
    row.note, row.decided_by, row.decided_at = note, actor, now
    session.flush()
    audit.record(session, actor, f"number.{decision}", f"verified_number:{row.id}",
                 {"member_id": row.member_id, "rejected_others": sorted(others)})
    return _view(session, row, wrap)


def withdraw(
    session: Session, member_id: str, registration_id: int, *, policy: MergePolicy,
    wrap: bytes, now: datetime | None = None,
) -> None:
    """A member withdraws its own pending or verified registration (404 for anyone
    else's, so ids reveal nothing)."""
    now = now or utcnow()
    row = session.get(VerifiedNumber, registration_id)
    if row is None or row.member_id != member_id or row.state not in (
        NumberState.PENDING.value, NumberState.VERIFIED.value
    ):
        raise ApiError(404, "not_found", "no such open registration of yours")
    actor = f"member:{member_id}"
    _unallow(session, row, actor, policy, wrap, now)
    row.state, row.decided_by, row.decided_at = NumberState.WITHDRAWN.value, actor, now
    session.flush()
    audit.record(session, actor, "number.withdraw", f"verified_number:{row.id}", {})


def reporter_bucket(count: int) -> str:
    """How many institutions, without saying exactly how many beyond two (issue 16)."""
    if count <= 2:
        return str(count)
    return "3-5" if count <= 5 else "6-10" if count <= 10 else ">10"


def reputation(session: Session, member_id: str, *, wrap: bytes) -> list[dict[str, Any]]:
    """How other institutions report this member's **verified** numbers (as Hiya tells a
    business): categories, a bucketed count of reporting institutions, and the months
    of the first and last report. Only verified registrations — an admin checked the
    number is the member's — so a claim on somebody else's number is no oracle on
    what was reported about it. The member's own reports and `legit` votes are left
    out; no member identities."""
    keys = list(active_keys(session, wrap).values())
    rows = session.scalars(
        select(VerifiedNumber).where(
            VerifiedNumber.member_id == member_id,
            VerifiedNumber.state == NumberState.VERIFIED.value,
        ).order_by(VerifiedNumber.id)
    ).all()
    out = []
    for row in rows:
        number = unseal(wrap, row.nonce, row.ciphertext, _AAD).decode()
        hashes = [hash_normalized(IndicatorKind.PHONE, number, key) for key in keys]
        reports = session.execute(
            select(Report.category, Report.member_id, Report.first_seen, Report.last_seen)
            .join(Indicator, Indicator.id == Report.indicator_id)
            .where(
                Indicator.kind == PHONE, Indicator.value.in_(hashes),
                Report.state == ReportState.ACTIVE.value, Report.member_id != member_id,
                Report.category != Category.LEGIT.value,
            )
        ).all()
        out.append({
            "id": row.id, "number": number, "label": label(row.display_name, row.purpose),
            "categories": sorted({r.category for r in reports}),
            "reporters": reporter_bucket(len({r.member_id for r in reports})),
            "first_reported": min(r.first_seen for r in reports).strftime("%Y-%m")
            if reports else None,
            "last_reported": max(r.last_seen for r in reports).strftime("%Y-%m")
            if reports else None,
        })
    return out
