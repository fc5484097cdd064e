"""The admin allowlist (DESIGN §4): verified legitimate numbers that beat block and warn.

An admin adds either a hashed indicator or a raw number; a raw number is
normalised and hashed here with the current consortium key and then dropped —
only the hash is stored, and nothing raw reaches the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.allowlist import AllowlistEntry
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.services import audit
from hub.services.ingest import check_epoch, ensure_indicators
from hub.services.listings import find_indicator, recompute
from schemas.enums import Category, IndicatorKind
from schemas.indicators import InvalidIndicator, hash_indicator
from schemas.timefmt import format_time, utcnow


def add(
    session: Session, data: dict[str, Any], *, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Allowlist a hashed indicator or a raw number (hashed under the current epoch)."""
    from hub.services.consortium_keys import current_key

    now = now or utcnow()
    if data.get("raw_number") is not None:
        epoch, key = current_key(session)
        try:
            value = hash_indicator(IndicatorKind.PHONE, data["raw_number"], key, data["region"])
        except InvalidIndicator as exc:
            raise ApiError(
                422, "validation_error", "invalid input: raw_number", {"raw_number": [str(exc)]}
            ) from None
        kind = IndicatorKind.PHONE.value
    else:
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
    recompute(session, [indicator_id], now)
    audit.record(
        session,
        actor,
        "allowlist.add",
        f"indicator:{indicator_id}",
        {"kind": kind, "created": created, "from_raw": data.get("raw_number") is not None},
    )
    return {"kind": kind, "value": value, "key_epoch": epoch, "created": created}


def remove(
    session: Session, kind: str, value: str, *, actor: str, now: datetime | None = None
) -> None:
    now = now or utcnow()
    indicator = find_indicator(session, kind, value)
    entry = session.get(AllowlistEntry, indicator.id) if indicator is not None else None
    if indicator is None or entry is None:
        raise ApiError(404, "not_found", "this indicator is not on the admin allowlist")
    session.delete(entry)
    session.flush()
    recompute(session, [indicator.id], now)
    audit.record(session, actor, "allowlist.remove", f"indicator:{indicator.id}", {"kind": kind})


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
    rows = session.execute(
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Listing.allowlisted.is_(True), Listing.categories != "")
        .order_by(Listing.score.desc(), Indicator.id)
    ).all()
    out = []
    for indicator, listing in rows:
        bad = [c for c in listing.categories.split(",") if c and c != Category.LEGIT.value]
        if not bad:
            continue
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
    return out[offset : offset + limit]
