"""Report ingestion: store and acknowledge a batch of up to 10,000 reports.

Each item is validated on its own (`validate`), so a member gets every problem
by index and the good items still count. Valid items are upserted in bulk
(existing indicators and reports are loaded with chunked `IN` queries, never one
query per item) and every touched indicator is queued for the merge consumer
(`merge_queue.enqueue`) in the same short transaction: its commit is the
acknowledgement (`state: accepted`); the listings change when the consumer has
merged the batch (`GET /v1/batches/<id>` → `merged`). The batch row keeps the
member's exact signed body (compressed), signature, timestamp and nonce with the
body's SHA-256 (non-repudiable provenance: `hub.services.provenance`) and the
response, replayed for a repeated `Idempotency-Key`.
"""

from __future__ import annotations

import hmac
import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hub.bulk_sql import bulk_write, chunked
from hub.errors import ApiError
from hub.models.report import Report, ReportBatch
from hub.services import audit, merge_queue, quotas
from hub.services.consortium_keys import epoch_states
from hub.services.indicators import (
    FEED_KEY_COLLISION,
    ensure_indicators,
    epoch_error,
    load_indicator_ids,
)
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.enums import ReportState
from schemas.reports import ReportSchema, fast_load_report
from schemas.timefmt import utcnow

LEGIT = "legit"

OVERTURNED_MESSAGE = (
    "A report of yours on this indicator was overturned by a dispute; you cannot report it "
    "again in any category except legit."
)

MERGE_PENDING = (
    "stored and acknowledged; listings change when the batch is merged: "
    "GET /v1/batches/<batch_id> shows state accepted -> merged"
)

_REPORT_SCHEMA = ReportSchema()


@dataclass(frozen=True)
class Provenance:
    """What the member signed: kept with the batch so the hub can prove it later."""

    body_sha256: str
    signature: str | None = None
    timestamp: str | None = None
    nonce: str | None = None
    body: bytes | None = None  # the exact signed body, kept (compressed) with the batch
    path: str | None = None  # the request target the member signed


def new_batch_id() -> str:
    return "b_" + secrets.token_hex(10)


def find_replay(
    session: Session,
    member_id: str,
    idempotency_key: str | None,
    body_sha256: str,
    now: datetime | None = None,
    *,
    ttl_s: int,
    clear_expired: bool = True,
) -> dict[str, Any] | None:
    """The stored response for a repeated key and body; 409 when the body differs.

    A key is honoured for `ttl_s` (`LIANFANG_IDEMPOTENCY_TTL_S`) after its batch: a
    retry comes within seconds or hours, while a key seen again days later is a
    client reusing a name for new data. After the window the old batch's key is
    cleared (the batch row and its signature — the provenance — stay) and the
    request is a new batch. `clear_expired=False` only looks (a read-only pre-check
    before the write transaction, which then clears the key itself).
    """
    if not idempotency_key:
        return None
    now = now or utcnow()
    batch = session.scalars(
        select(ReportBatch).where(
            ReportBatch.member_id == member_id, ReportBatch.idempotency_key == idempotency_key
        )
    ).first()
    if batch is None:
        return None
    if batch.created_at <= now - timedelta(seconds=ttl_s):
        if not clear_expired:
            return None
        batch.idempotency_key = None  # frees the unique (member, key) for the new batch
        session.flush()
        return None
    if not hmac.compare_digest(batch.body_sha256, body_sha256):
        raise ApiError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was already used with a different body",
        )
    return json.loads(batch.response)


BATCHES_IN_FLIGHT_SETTING = "LIANFANG_MAX_BATCHES_IN_FLIGHT"


def check_in_flight(session: Session, member_id: str, limit: int) -> None:
    """429 when the member already has `limit` batches acknowledged but not merged.

    Fairness: a member streaming batches faster than they merge is told to slow
    down instead of growing the queue every other member's reports wait behind.
    """
    waiting = merge_queue.in_flight(session, member_id)
    if waiting >= limit:
        raise ApiError(
            429,
            "too_many_batches_in_flight",
            f"{waiting} of your batches are accepted but not merged yet; the limit is "
            f"{limit} ({BATCHES_IN_FLIGHT_SETTING}); retry after they merge",
            {BATCHES_IN_FLIGHT_SETTING: [f"at most {limit} batches in flight"]},
            headers={"Retry-After": "1"},
        )


Validated = tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]


def validate(session: Session, member_id: str, items: list[Any], now: datetime) -> Validated:
    """Every item checked on its own: (valid (index, data) pairs, per-index errors).

    The one validation step of ingest; per-member checks on the batch as a whole
    (quotas) belong here too, before anything is stored.
    """
    return _validate(items, epoch_states(session), now)


def _validate(
    items: list[Any], states: Mapping[int, str], now: datetime | None = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    valid: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    now = now or utcnow()
    for index, item in enumerate(items):
        fast = fast_load_report(item, now)
        if fast is not None:
            problem = epoch_error(states, fast["key_epoch"])
            if problem:
                errors.append({"index": index, "fields": {"key_epoch": [problem]}})
            else:
                valid.append((index, fast))
            continue
        if not isinstance(item, dict):
            errors.append({"index": index, "fields": {"_schema": ["Must be a JSON object."]}})
            continue
        try:
            data = _REPORT_SCHEMA.load(item)
        except ValidationError as exc:
            errors.append({"index": index, "fields": exc.messages})
            continue
        problem = epoch_error(states, data["key_epoch"])
        if problem:
            errors.append({"index": index, "fields": {"key_epoch": [problem]}})
            continue
        valid.append((index, data))
    return valid, errors


def submit_reports(
    session: Session,
    member_id: str,
    items: list[Any],
    *,
    provenance: Provenance,
    idempotency_ttl_s: int,
    max_in_flight: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    quota_per_day: int = 0,
    validated: Validated | None = None,
) -> tuple[int, dict[str, Any]]:
    """Store and acknowledge one batch; returns (HTTP status, response body). Commits nothing.

    200 with `{"batch_id", "state": "accepted", "accepted", "errors", "merge"}` when
    at least one report was accepted (the caller's commit is the acknowledgement;
    the listings follow when the merge consumer has merged the batch); 422 with
    the same per-index `errors` when none was (and nothing is stored, so the member
    can fix and resend under the same key); 429 when `max_in_flight` batches of the
    member wait for the merge. `validated` is `validate`'s result when the caller
    ran it before opening this (write) transaction, as `POST /v1/reports` does: on
    SQLite the single writer is then held only to store, not to parse and check. A batch
    naming more indicators new to the hub than the member's daily quota has left
    (`quota_per_day`, `LIANFANG_QUOTA_NEW_INDICATORS_PER_DAY`; 0 = off) is a 429
    `quota_exceeded` (`hub.services.quotas`) before anything is written.
    """
    now = now or utcnow()
    replay = find_replay(
        session, member_id, idempotency_key, provenance.body_sha256, now, ttl_s=idempotency_ttl_s
    )
    if replay is not None:
        return 200, replay
    if max_in_flight is not None:
        check_in_flight(session, member_id, max_in_flight)

    valid, errors = validated if validated is not None else validate(
        session, member_id, items, now
    )
    quotas.charge_new_indicators(
        session, member_id, ((d["kind"], d["value"]) for _, d in valid), now,
        per_day=quota_per_day,
    )
    batch_id = new_batch_id()
    batch = ReportBatch(
        id=batch_id,
        member_id=member_id,
        kind="reports",
        idempotency_key=idempotency_key,
        body_sha256=provenance.body_sha256,
        signature=provenance.signature,
        signed_timestamp=provenance.timestamp,
        nonce=provenance.nonce,
        accepted=0,
        rejected=0,
        response="{}",
        created_at=now,
        body=zlib.compress(provenance.body, 1) if provenance.body is not None else None,
        state=merge_queue.ACCEPTED,
        signed_path=provenance.path,
    )
    session.add(batch)
    session.flush()
    accepted, more_errors, touched = _upsert(session, member_id, batch_id, valid, now)
    errors = sorted(errors + more_errors, key=lambda e: e["index"])
    if accepted == 0:
        # The caller rolls back: nothing of a batch without one accepted report is kept.
        return 422, _nothing_accepted(errors)

    response = {
        "batch_id": batch_id,
        "state": merge_queue.ACCEPTED,
        "accepted": accepted,
        "errors": errors,
        "merge": MERGE_PENDING,
    }
    batch.accepted = accepted
    batch.rejected = len(errors)
    batch.response = json.dumps(response, separators=(",", ":"))
    batch.pending = merge_queue.enqueue(
        session, touched, now=now, member_id=member_id, batch_id=batch_id
    )
    if batch.pending == 0:  # every item superseded or refused: nothing to merge
        batch.state, batch.merged_at = merge_queue.MERGED, now
    audit.record(
        session,
        f"member:{member_id}",
        "reports.submit",
        batch_id,
        {"accepted": accepted, "rejected": len(errors), "queued": batch.pending},
    )
    return 200, response


def _nothing_accepted(errors: list[dict[str, Any]]) -> dict[str, Any]:
    fields = {"reports": {str(e["index"]): e["fields"] for e in errors}}
    return {
        "error": {
            "code": "validation_error",
            "message": "no report in the batch was accepted",
            "fields": fields,
        },
        "accepted": 0,
        "errors": errors,
    }


def _upsert(
    session: Session,
    member_id: str,
    batch_id: str,
    valid: list[tuple[int, dict[str, Any]]],
    now: datetime,
) -> tuple[int, list[dict[str, Any]], set[int]]:
    """Insert or update the member's reports; returns (accepted, errors, touched ids)."""
    if not valid:
        return 0, [], set()
    ids = ensure_indicators(session, ((d["kind"], d["value"], d["key_epoch"]) for _, d in valid))
    latest: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}
    collided: list[dict[str, Any]] = []
    for index, data in valid:
        ident = ids.get((data["kind"], data["value"]))
        if ident is None:
            collided.append({"index": index, "fields": {"value": [FEED_KEY_COLLISION]}})
            continue
        latest[(ident, data["category"])] = (index, data)
    valid = [(i, d) for i, d in valid if (d["kind"], d["value"]) in ids]

    existing: dict[tuple[int, str], Any] = {}
    indicator_ids = sorted({key[0] for key in latest})
    reports = Report.__table__
    connection = session.connection()  # Core rows: no ORM loading for up to 10,000 rows
    for chunk in chunked(indicator_ids):
        for row in connection.execute(
            select(
                reports.c.id,
                reports.c.indicator_id,
                reports.c.category,
                reports.c.state,
                reports.c.first_seen,
                reports.c.last_seen,
            ).where(reports.c.member_id == member_id, reports.c.indicator_id.in_(list(chunk)))
        ):
            existing[(row.indicator_id, row.category)] = row

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = collided
    overturned_keys: set[tuple[int, str]] = set()
    # A delisting binds the member on the indicator, not on one category: else it
    # could relist the value under another category (fraud overturned → harassment).
    overturned = ReportState.OVERTURNED.value
    overturned_ids = {row.indicator_id for row in existing.values() if row.state == overturned}
    for key, (index, data) in latest.items():
        old = existing.get(key)
        if key[0] in overturned_ids and key[1] != LEGIT:
            overturned_keys.add(key)
            errors.append({"index": index, "fields": {"value": [OVERTURNED_MESSAGE]}})
            continue
        values = {
            "confidence": data["confidence"],
            "first_seen": data["first_seen"],
            "last_seen": data["last_seen"],
            "expires_at": data["expires_at"],
            "case_ref": data["case_ref"],
            "state": ReportState.ACTIVE.value,
            "batch_id": batch_id,
            "updated_at": now,
        }
        if old is None:
            inserts.append(
                {
                    "member_id": member_id,
                    "indicator_id": key[0],
                    "category": key[1],
                    "key_epoch": data["key_epoch"],
                    **values,
                }
            )
        elif old.state == ReportState.OVERTURNED.value:
            overturned_keys.add(key)
            errors.append(
                {
                    "index": index,
                    "fields": {"value": [OVERTURNED_MESSAGE]},
                }
            )
        else:
            values["key_epoch"] = data["key_epoch"]  # the member's own label, its own report
            values["first_seen"] = min(old.first_seen, data["first_seen"])
            values["last_seen"] = max(old.last_seen, data["last_seen"])
            updates.append({"report_id": old.id, **{"b_" + k: v for k, v in values.items()}})
    # Earlier duplicates of an item in the same batch were superseded, not rejected.
    superseded = len(valid) - len(latest)
    table = Report.__table__
    bulk_write(session, table.insert(), inserts)
    if updates:
        stmt = (
            table.update()
            .where(table.c.id == bindparam("report_id"))
            .values({name[2:]: bindparam(name) for name in updates[0] if name != "report_id"})
        )
        bulk_write(session, stmt, updates)
    touched = {key[0] for key in latest if key not in overturned_keys}
    accepted = len(inserts) + len(updates) + superseded
    return accepted, errors, touched


def retract_reports(
    session: Session,
    member_id: str,
    items: list[dict[str, Any]],
    now: datetime | None = None,
    *,
    policy: MergePolicy,
) -> dict[str, Any]:
    """Withdraw the member's own active reports; returns `{"retracted", "not_found"}`.

    An item without `category` withdraws all of the member's reports on it.
    """
    now = now or utcnow()
    ids = load_indicator_ids(session, [(i["kind"], i["value"]) for i in items])
    active: dict[int, dict[str, int]] = {}
    for chunk in chunked(sorted(set(ids.values()))):
        for report_id, indicator_id, category in session.execute(
            select(Report.id, Report.indicator_id, Report.category).where(
                Report.member_id == member_id,
                Report.state == ReportState.ACTIVE.value,
                Report.indicator_id.in_(list(chunk)),
            )
        ):
            active.setdefault(indicator_id, {})[category] = report_id
    chosen: set[int] = set()
    touched: set[int] = set()
    not_found: list[int] = []
    for index, item in enumerate(items):
        indicator_id = ids.get((item["kind"], item["value"]))
        by_category = active.get(indicator_id, {}) if indicator_id is not None else {}
        category = item.get("category")
        hits = [by_category[category]] if category in by_category else []
        if not category:
            hits = list(by_category.values())
        if not hits:
            not_found.append(index)
            continue
        chosen.update(hits)
        touched.add(indicator_id)
    retracted = ReportState.RETRACTED.value
    rows = [{"id": rid, "state": retracted, "updated_at": now} for rid in sorted(chosen)]
    for chunk in chunked(rows):
        session.execute(update(Report), list(chunk))
    changed = recompute(session, touched, now, policy=policy)
    audit.record(
        session,
        f"member:{member_id}",
        "reports.retract",
        member_id,
        {"retracted": len(chosen), "not_found": len(not_found), "listings_changed": changed},
    )
    return {"retracted": len(chosen), "not_found": not_found}
