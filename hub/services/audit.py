"""The tamper-evident audit log: every state change, who did it, hash-chained.

Each row carries `prev_hash` and `hash = sha256(prev_hash + canonical_json(fields))`
where fields are id, at, actor, action, subject and details; editing, inserting
or deleting a row breaks the chain at that row. Appends are serialised through
the `audit_head` row (updated first, so it is locked until commit on PostgreSQL
and takes SQLite's write lock), so concurrent writers never fork the chain.

`details` must never hold secrets or raw identifiers (phone numbers, tokens,
keys, passwords): only ids, states, counts, reasons.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models.audit import GENESIS_HASH, AuditEntry, AuditHead
from schemas.canonical import canonical_json
from schemas.timefmt import format_time, utcnow

HEAD_ID = 1


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(dict(fields))).hexdigest()


def _fields(entry_id: int, at: str, actor: str, action: str, subject: str, details: Any) -> dict:
    return {
        "id": entry_id,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    }


def record(
    session: Session, actor: str, action: str, subject: str, details: Mapping[str, Any]
) -> None:
    """Append one entry in `session`'s transaction (committed by the caller).

    `actor` is e.g. `admin:alice`, `member:mbr_…`, `system`, `cli`.
    """
    details_canonical = canonical_json(dict(details))
    row = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    seq, prev_hash = int(row[0]), str(row[1])
    at = utcnow()
    fields = _fields(seq, format_time(at), actor, action, subject, json.loads(details_canonical))
    digest = entry_hash(prev_hash, fields)
    session.add(
        AuditEntry(
            id=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=details_canonical.decode("utf-8"),
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=digest))
    session.flush()


def record_daily(
    session: Session, actor: str, action: str, subject: str, details: Mapping[str, Any]
) -> bool:
    """Record `action` once per UTC day for the same actor, subject and details.

    For actions a client repeats by design (a screener polling the consortium
    key every few minutes): the first one of the day is recorded with the day
    in its details, repeats are not, so the chain says who received which
    keys on which days without one row per poll. Two first requests racing may
    both record; that costs a row, never a missing one. True when recorded.
    """
    now = utcnow()
    day = now.strftime("%Y-%m-%d")
    summary = {**details, "day": day}
    canonical = canonical_json(summary).decode("utf-8")
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    seen = session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == action, AuditEntry.subject == subject,
            AuditEntry.actor == actor, AuditEntry.at >= start, AuditEntry.details == canonical,
        ).limit(1)
    )
    if seen is not None:
        return False
    record(session, actor, action, subject, summary)
    return True


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """Recompute the chain; `(True, None)` or `(False, id of the first broken row)`.

    A row is broken when its id is out of sequence, its `prev_hash` does not
    match the previous row, or its own hash does not match its content. A
    deleted tail shows as the head naming a row that is missing.
    """
    prev_hash = GENESIS_HASH
    expected_id = 1
    stmt = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    for entry in session.scalars(stmt):
        if entry.id != expected_id or entry.prev_hash != prev_hash:
            return False, entry.id
        try:
            details = json.loads(entry.details)
            fields = _fields(
                entry.id, format_time(entry.at), entry.actor, entry.action, entry.subject, details
            )
            digest = entry_hash(prev_hash, fields)
        except (ValueError, TypeError):
            return False, entry.id
        if digest != entry.hash:
            return False, entry.id
        prev_hash = entry.hash
        expected_id += 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return False, expected_id
    last_id = expected_id - 1
    if head.seq > last_id:  # rows missing at the tail
        return False, last_id + 1
    if head.seq < last_id:  # rows appended behind the head's back
        return False, head.seq + 1
    if head.hash != prev_hash:  # the chain was recomputed: the tail cannot be trusted
        return False, last_id
    return True, None


def entries(
    session: Session, *, subject: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[AuditEntry]:
    """Newest-first page of entries, optionally for one subject (admin console)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject is not None:
        stmt = stmt.where(AuditEntry.subject == subject)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.scalars(stmt))


def entry_to_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": format_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": json.loads(entry.details),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
