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
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.db import side_session
from hub.models.audit import GENESIS_HASH, AuditEntry, AuditHead, AuditVerified
from schemas.canonical import canonical_json
from schemas.timefmt import format_time, utcnow

HEAD_ID = 1
VERIFIED_ID = 1


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


def _verify_rows(
    session: Session, after_id: int, prev_hash: str, upto: int | None = None
) -> tuple[int | None, int, str]:
    """Recompute rows `after_id < id [<= upto]`; (first broken id or None, last id, last hash)."""
    expected_id = after_id + 1
    stmt = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
    if upto is not None:
        stmt = stmt.where(AuditEntry.id <= upto)
    for entry in session.scalars(stmt.execution_options(yield_per=1000)):
        if entry.id != expected_id or entry.prev_hash != prev_hash:
            return entry.id, expected_id - 1, prev_hash
        try:
            details = json.loads(entry.details)
            fields = _fields(
                entry.id, format_time(entry.at), entry.actor, entry.action, entry.subject, details
            )
            digest = entry_hash(prev_hash, fields)
        except (ValueError, TypeError):
            return entry.id, expected_id - 1, prev_hash
        if digest != entry.hash:
            return entry.id, expected_id - 1, prev_hash
        prev_hash = entry.hash
        expected_id += 1
    return None, expected_id - 1, prev_hash


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """Recompute the chain; `(True, None)` or `(False, id of the first broken row)`.

    A row is broken when its id is out of sequence, its `prev_hash` does not
    match the previous row, or its own hash does not match its content. A
    deleted tail shows as the head naming a row that is missing. This cannot
    see a chain re-hashed as a whole: `verify_checkpoints` compares it with
    the signed checkpoints members kept.
    """
    broken, last_id, prev_hash = _verify_rows(session, 0, GENESIS_HASH)
    if broken is not None:
        return False, broken
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return False, last_id + 1
    if head.seq > last_id:  # rows missing at the tail
        return False, last_id + 1
    if head.seq < last_id:  # rows appended behind the head's back
        return False, head.seq + 1
    if head.hash != prev_hash:  # the chain was recomputed: the tail cannot be trusted
        return False, last_id
    return True, None


def head(session: Session) -> tuple[int, str]:
    """(sequence number, hash) of the newest entry; (0, genesis) before the first."""
    row = session.get(AuditHead, HEAD_ID)
    return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS_HASH)


def verify_incremental(session: Session) -> tuple[bool, int | None]:
    """`verify_chain` from the last verified point on: what a console page view runs.

    Reads the stored mark, the one row it names (still there, same hash?), the
    rows appended since and the head -- never the whole table, so the cost of a
    page view depends on what was appended since the last one, not on the
    chain's length (issue 14: 3.5 s at 10^5 rows before). Edits *behind* the mark
    are left to the full `lianfang-hub verify-audit` and to the signed
    checkpoints; only an OK result advances the mark, in a side transaction.
    """
    top_seq, top_hash = head(session)
    mark = session.get(AuditVerified, VERIFIED_ID)
    after, prev_hash = (int(mark.seq), str(mark.hash)) if mark is not None else (0, GENESIS_HASH)
    if after > top_seq:  # the chain is shorter than what was verified: rows deleted
        return False, top_seq + 1
    if after > 0:
        anchor = session.get(AuditEntry, after)
        if anchor is None or anchor.hash != prev_hash:
            return False, after
    broken, last_id, last_hash = _verify_rows(session, after, prev_hash, upto=top_seq)
    if broken is not None:
        return False, broken
    if last_id < top_seq:
        return False, last_id + 1
    if last_hash != top_hash:
        return False, last_id
    if top_seq > after:
        _advance_mark(top_seq, top_hash)
    return True, None


def _advance_mark(seq: int, digest: str) -> None:
    """Store the verified point (only forwards); a lost race costs one re-verify, never
    a wrong answer. Needs an app context (the console's side session)."""
    try:
        with side_session() as side:
            moved = side.execute(
                update(AuditVerified).where(AuditVerified.id == VERIFIED_ID,
                                            AuditVerified.seq < seq)
                .values(seq=seq, hash=digest, verified_at=utcnow())
            ).rowcount
            if not moved and side.get(AuditVerified, VERIFIED_ID) is None:
                side.add(AuditVerified(id=VERIFIED_ID, seq=seq, hash=digest,
                                       verified_at=utcnow()))
                side.flush()
    except IntegrityError:
        pass


# ------------------------------------------------------------ signed checkpoints

CHECKPOINT_TYPE = "audit-checkpoint"
CHECKPOINT_FORMAT = 1
MAX_PROOF_ROWS = 1000


def checkpoint_signed(session: Session, now: datetime) -> dict[str, Any]:
    """The `signed` part of an audit checkpoint: the head as it is now (docs/FORMATS.md).

    Signed by the feed key like a manifest, so every screener and member can
    verify it with the keys.json it already trusts, and keep it: a later chain
    whose row `seq` has another hash is a rewrite the operator signed against.
    """
    seq, digest = head(session)
    return {"type": CHECKPOINT_TYPE, "format": CHECKPOINT_FORMAT, "seq": seq, "hash": digest,
            "issued_at": format_time(now)}


def chain_proof(session: Session, first: int, limit: int) -> list[dict[str, Any]]:
    """(seq, prev_hash, hash) of rows `first ..` -- hashes only, never actors or details.

    Enough for a member to check that the chain links from a checkpoint it
    holds to a newer one, without seeing other members' audit entries.
    """
    rows = session.execute(
        select(AuditEntry.id, AuditEntry.prev_hash, AuditEntry.hash)
        .where(AuditEntry.id >= first).order_by(AuditEntry.id).limit(limit)
    ).all()
    return [{"seq": int(i), "prev_hash": p, "hash": h} for i, p, h in rows]


def verify_checkpoints(
    session: Session, checkpoints: Iterable[Mapping[str, Any]]
) -> list[tuple[int, str]]:
    """Checkpoints (seq, hash) the database contradicts, with what it says instead.

    For `lianfang-hub verify-audit --checkpoints`: the members' kept checkpoints
    against the stored chain, which catches a chain re-hashed as a whole (it
    verifies on its own, but its row `seq` no longer has the hash the hub signed).
    """
    conflicts: list[tuple[int, str]] = []
    top_seq, _ = head(session)
    for point in checkpoints:
        seq, digest = int(point["seq"]), str(point["hash"])
        if seq == 0:
            actual = GENESIS_HASH
        elif seq > top_seq:
            actual = "missing (the chain is shorter)"
        else:
            row = session.get(AuditEntry, seq)
            actual = row.hash if row is not None else "missing (row deleted)"
        if actual != digest:
            conflicts.append((seq, actual))
    return conflicts


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
