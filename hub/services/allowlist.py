"""The admin allowlist (DESIGN §4): verified legitimate numbers that beat block and warn.

An admin adds either a hashed indicator or a raw number. A hash is tied to one
consortium epoch, so a raw (official, public) number is normalised to E.164 and
kept sealed under the master key (`AllowlistNumber`, the consortium-key cipher)
and hashed under *every* active epoch — current and retiring — and again under
each new epoch at rotation (`allow_epoch`), so an official number never falls
off the allowlist when the key rotates. Nothing raw reaches the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.allowlist import AllowlistEntry, AllowlistNumber
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.services import audit
from hub.services.consortium_keys import (
    active_keys,
    current_key,
    seal,
    unseal,
)
from hub.services.indicators import check_epoch, ensure_indicators, find_indicator
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.enums import Category, IndicatorKind
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


def _allow_ids(
    session: Session, values: list[tuple[str, int]], actor: str, note: str, now: datetime
) -> tuple[list[int], bool]:
    """Ensure each `(hash, epoch)` phone indicator exists and is admin-allowlisted."""
    ids = ensure_indicators(session, [(PHONE, value, epoch) for value, epoch in values])
    created = False
    out = []
    for value, _ in values:
        indicator_id = ids[(PHONE, value)]
        out.append(indicator_id)
        entry = session.get(AllowlistEntry, indicator_id)
        if entry is None:
            created = True
            session.add(
                AllowlistEntry(indicator_id=indicator_id, added_by=actor, note=note, created_at=now)
            )
        elif note:
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
    ids = ensure_indicators(session, [(kind, value, epoch)])
    indicator_id = ids[(kind, value)]
    entry = session.get(AllowlistEntry, indicator_id)
    created = entry is None
    if entry is None:
        entry = AllowlistEntry(
            indicator_id=indicator_id, added_by=actor, note=data.get("note", ""), created_at=now
        )
        session.add(entry)
    else:
        entry.note = data.get("note", "") or entry.note
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
        ids = _forget_number(session, indicator.key_epoch, value, wrap) or ids
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
            "key_epoch": indicator.key_epoch,
            "note": entry.note,
            "added_by": entry.added_by,
            "created_at": format_time(entry.created_at),
        }
        for entry, indicator in rows
    ]


def conflicts(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Allowlisted indicators that members still report as bad (DESIGN §4: shown to admins)."""
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
