"""The admin allowlist (docs/ARCHITECTURE.md §4): verified legitimate numbers beat block and warn.

An admin adds either a hashed indicator or a raw number. A hash is tied to one
consortium epoch, so a raw (official, public) number is normalised to E.164 and
kept sealed under the master key (`AllowlistNumber`, the consortium-key cipher)
and hashed under *every* active epoch — current and retiring — and again under
each new epoch at rotation (`allow_epoch`), so an official number never falls
off the allowlist when the key rotates. Nothing raw reaches the audit log.

Members' weighted `legit` votes allowlist a number by consensus only where no
block or warn stands; against one they raise a conflict (`Listing.conflict`)
that an admin settles here (`decide_conflict`): `allow` is an admin entry,
`keep` overrules the votes while the conflict lasts. Both are audited.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.allowlist import AllowlistConflictDecision, AllowlistEntry, AllowlistNumber
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.report import Report
from hub.services import audit
from hub.services.consortium_keys import (
    active_keys,
    current_key,
    epoch_states,
    seal,
    unseal,
)
from hub.services.indicators import check_epoch, find_indicator, require_indicators
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.enums import USABLE_EPOCH_STATES, Category, IndicatorKind, ReportState
from schemas.indicators import InvalidIndicator, hash_normalized, normalize
from schemas.timefmt import format_time, utcnow

_NUMBER_AAD = b"lianfang-allowlist-number"
PHONE = IndicatorKind.PHONE.value


def _digest(wrap: bytes, e164: str) -> str:
    return hmac.new(wrap, _NUMBER_AAD + b":" + e164.encode(), hashlib.sha256).hexdigest()


def _numbers(session: Session, wrap: bytes) -> list[tuple[AllowlistNumber, str]]:
    """Every stored official number with its decrypted E.164 form (a short list)."""
    rows = session.scalars(select(AllowlistNumber).order_by(AllowlistNumber.id))
    return [(row, unseal(wrap, row.nonce, row.ciphertext, _NUMBER_AAD).decode()) for row in rows]


def has_number(session: Session, wrap: bytes, e164: str) -> bool:
    """Whether this canonical number is already stored as an official allowlist number."""
    digest = _digest(wrap, e164)
    return session.scalars(
        select(AllowlistNumber.id).where(AllowlistNumber.digest == digest)
    ).first() is not None


def _allow_ids(
    session: Session, values: list[tuple[str, int]], actor: str, note: str, now: datetime
) -> tuple[list[int], bool]:
    """Ensure each `(hash, epoch)` phone indicator exists and is admin-allowlisted."""
    ids = require_indicators(
        session, [(PHONE, value, epoch) for value, epoch in values], "raw_number"
    )
    created = False
    out = []
    for value, epoch in values:
        indicator_id = ids[(PHONE, value)]
        out.append(indicator_id)
        entry = session.get(AllowlistEntry, indicator_id)
        if entry is None:
            created = True
            session.add(
                AllowlistEntry(
                    indicator_id=indicator_id, added_by=actor, note=note, key_epoch=epoch,
                    created_at=now,
                )
            )
        else:
            entry.key_epoch = epoch  # the hub hashed it under this epoch: the entry's truth
            if note:
                entry.note = note
    session.flush()
    return out, created


def allow_epoch(
    session: Session, epoch: int, key: bytes, wrap: bytes, now: datetime, *, policy: MergePolicy
) -> int:
    """Allowlist every stored official number under a new epoch's key (called at rotation,
    in the rotation's transaction); returns how many numbers were hashed."""
    numbers = _numbers(session, wrap)
    if not numbers:
        return 0
    ids: list[int] = []
    for row, e164 in numbers:
        value = hash_normalized(IndicatorKind.PHONE, e164, key)
        ids.extend(_allow_ids(session, [(value, epoch)], row.added_by, row.note, now)[0])
    recompute(session, ids, now, policy=policy)
    return len(numbers)


def _add_raw(
    session: Session, data: dict[str, Any], actor: str, now: datetime,
    policy: MergePolicy, wrap: bytes,
) -> dict[str, Any]:
    try:
        e164 = normalize(IndicatorKind.PHONE, data["raw_number"], data["region"])
    except InvalidIndicator as exc:
        raise ApiError(
            422, "validation_error", "invalid input: raw_number", {"raw_number": [str(exc)]}
        ) from None
    digest = _digest(wrap, e164)
    note = data.get("note", "")
    row = session.scalars(select(AllowlistNumber).where(AllowlistNumber.digest == digest)).first()
    if row is None:
        nonce, ciphertext = seal(wrap, e164.encode(), _NUMBER_AAD)
        row = AllowlistNumber(
            digest=digest, nonce=nonce, ciphertext=ciphertext, note=note, added_by=actor,
            created_at=now,
        )
        session.add(row)
    elif note:
        row.note = note
    current_epoch, _ = current_key(session, wrap)
    values = [
        (hash_normalized(IndicatorKind.PHONE, e164, key), epoch)
        for epoch, key in sorted(active_keys(session, wrap).items())
    ]
    ids, created = _allow_ids(session, values, actor, note, now)
    recompute(session, ids, now, policy=policy)
    audit.record(
        session, actor, "allowlist.add", f"indicator:{ids[-1]}",
        {"kind": PHONE, "created": created, "from_raw": True, "epochs": len(values)},
    )
    value = next(v for v, e in values if e == current_epoch)
    return {"kind": PHONE, "value": value, "key_epoch": current_epoch, "created": created}


def add(
    session: Session,
    data: dict[str, Any],
    *,
    actor: str,
    policy: MergePolicy,
    wrap: bytes,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Allowlist a hashed indicator (its epoch only) or a raw number (every epoch, and
    every future one); the answer names the current epoch's hash for a raw number.
    `wrap` is the key store's wrapping key (`consortium_keys.config_wrapping_key`)."""
    now = now or utcnow()
    if data.get("raw_number") is not None:
        return _add_raw(session, data, actor, now, policy, wrap)
    kind, value, epoch = data["kind"], data["value"], data["key_epoch"]
    check_epoch(session, epoch)
    ids = require_indicators(session, [(kind, value, epoch)], "value")
    indicator_id = ids[(kind, value)]
    entry = session.get(AllowlistEntry, indicator_id)
    created = entry is None
    if entry is None:
        entry = AllowlistEntry(
            indicator_id=indicator_id, added_by=actor, note=data.get("note", ""),
            key_epoch=epoch, created_at=now,
        )
        session.add(entry)
    else:
        entry.note = data.get("note", "") or entry.note
        entry.key_epoch = epoch
    session.flush()
    recompute(session, [indicator_id], now, policy=policy)
    audit.record(
        session,
        actor,
        "allowlist.add",
        f"indicator:{indicator_id}",
        {"kind": kind, "created": created, "from_raw": data.get("raw_number") is not None},
    )
    return {"kind": kind, "value": value, "key_epoch": epoch, "created": created}


def remove(
    session: Session,
    kind: str,
    value: str,
    *,
    actor: str,
    policy: MergePolicy,
    wrap: bytes,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    entry = session.get(AllowlistEntry, indicator.id) if indicator is not None else None
    if indicator is None or entry is None:
        raise ApiError(404, "not_found", "this indicator is not on the admin allowlist")
    ids = [indicator.id]
    if kind == PHONE:
        epoch = entry.key_epoch if entry.key_epoch is not None else indicator.key_epoch
        ids = _forget_number(session, epoch, value, wrap) or ids
    session.execute(delete(AllowlistEntry).where(AllowlistEntry.indicator_id.in_(ids)))
    session.flush()
    recompute(session, ids, now, policy=policy)
    audit.record(session, actor, "allowlist.remove", f"indicator:{indicator.id}", {"kind": kind})


def _forget_number(session: Session, epoch: int, value: str, wrap: bytes) -> list[int]:
    """If `value` is a stored official number's hash, drop that number and return the ids
    of its hashes under every active epoch (removing it from one epoch only would be
    undone at the next rotation); else []."""
    keys = active_keys(session, wrap)
    key = keys.get(epoch)
    if key is None:
        return []
    for row, e164 in _numbers(session, wrap):
        if hmac.compare_digest(hash_normalized(IndicatorKind.PHONE, e164, key), value):
            hashes = [hash_normalized(IndicatorKind.PHONE, e164, k) for k in keys.values()]
            session.delete(row)
            return list(
                session.scalars(
                    select(Indicator.id).where(Indicator.kind == PHONE, Indicator.value.in_(hashes))
                )
            )
    return []


def entries(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    rows = session.execute(
        select(AllowlistEntry, Indicator)
        .join(Indicator, Indicator.id == AllowlistEntry.indicator_id)
        .order_by(AllowlistEntry.created_at, AllowlistEntry.indicator_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        {
            "kind": indicator.kind,
            "value": indicator.value,
            "key_epoch": entry.key_epoch if entry.key_epoch is not None else indicator.key_epoch,
            "note": entry.note,
            "added_by": entry.added_by,
            "created_at": format_time(entry.created_at),
        }
        for entry, indicator in rows
    ]


def conflicts(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Allowlisted indicators members still report as bad: shown to admins (ARCHITECTURE.md §4)."""
    # `categories` is the sorted comma list: "" and "legit" are the only values with no
    # bad category, so the filter and the page are both done by the database.
    rows = session.execute(
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(
            Listing.allowlisted.is_(True),
            Listing.categories.not_in(["", Category.LEGIT.value]),
        )
        .order_by(Listing.score.desc(), Indicator.id)
        .limit(limit)
        .offset(offset)
    ).all()
    out = []
    for indicator, listing in rows:
        bad = [c for c in listing.categories.split(",") if c and c != Category.LEGIT.value]
        out.append(
            {
                "kind": indicator.kind,
                "value": indicator.value,
                "allow_source": listing.allow_source,
                "score": listing.score,
                "categories": bad,
                "reporter_count": listing.reporter_count,
            }
        )
    return out


class ConflictDecision(StrEnum):
    """An admin's answer to a consensus-allowlist conflict."""

    KEEP = "keep"  # the block/warn stands; the legit votes stay overruled
    ALLOW = "allow"  # an admin allowlist entry: beats block and warn


def consensus_conflicts(
    session: Session, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Open conflicts: members' legit votes would allowlist a number that stands at block or
    warn, and no admin has decided yet. Counts only, never which members voted."""
    decided = select(AllowlistConflictDecision.indicator_id)
    rows = session.execute(
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Listing.conflict.is_(True), Listing.indicator_id.not_in(decided))
        .order_by(Listing.updated_at, Indicator.id)
        .limit(limit)
        .offset(offset)
    ).all()
    legit = _legit_votes(session, [indicator.id for indicator, _ in rows])
    return [
        {
            "kind": indicator.kind,
            "value": indicator.value,
            "tier": listing.tier,
            "score": listing.score,
            "categories": [c for c in listing.categories.split(",") if c],
            "reporter_count": listing.reporter_count,
            "legit_votes": legit.get(indicator.id, 0),
            "since": format_time(listing.updated_at),
        }
        for indicator, listing in rows
    ]


def _legit_votes(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(Report.indicator_id, func.count(func.distinct(Report.member_id)))
        .where(
            Report.indicator_id.in_(ids),
            Report.category == Category.LEGIT.value,
            Report.state == ReportState.ACTIVE.value,
        )
        .group_by(Report.indicator_id)
    )
    return {indicator_id: int(count) for indicator_id, count in rows}


def decide_conflict(
    session: Session, kind: str, value: str, decision: str, note: str, *, actor: str,
    policy: MergePolicy, wrap: bytes, now: datetime | None = None,
) -> dict[str, Any]:
    """Settle an open conflict (404 if there is none): `allow` adds an admin allowlist entry
    under the epoch the legit voters hashed with; `keep` records the overruling."""
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    listing = session.get(Listing, indicator.id) if indicator is not None else None
    if indicator is None or listing is None or not listing.conflict or session.get(
        AllowlistConflictDecision, indicator.id
    ) is not None:
        raise ApiError(404, "not_found", "no open allowlist conflict on this indicator")
    if decision == ConflictDecision.ALLOW:
        add(session, {"kind": kind, "value": value, "key_epoch": _voters_epoch(session, indicator),
                      "raw_number": None, "note": note},
            actor=actor, policy=policy, wrap=wrap, now=now)
    else:
        session.add(AllowlistConflictDecision(
            indicator_id=indicator.id, decision=ConflictDecision.KEEP.value, decided_by=actor,
            note=note, decided_at=now,
        ))
        session.flush()
    audit.record(session, actor, "allowlist.conflict", f"indicator:{indicator.id}",
                 {"decision": decision})
    return {"kind": kind, "value": value, "decision": decision}


def _voters_epoch(session: Session, indicator: Indicator) -> int:
    """The newest usable epoch among the active legit reports (the hash's epoch as the
    voters labelled it), else the indicator's."""
    states = epoch_states(session)
    epochs = session.scalars(
        select(Report.key_epoch).where(
            Report.indicator_id == indicator.id,
            Report.category == Category.LEGIT.value,
            Report.state == ReportState.ACTIVE.value,
        )
    )
    usable = [e for e in epochs if states.get(e) in USABLE_EPOCH_STATES]
    return max(usable) if usable else indicator.key_epoch
