"""`POST /v1/reports`, `POST /v1/reports/retract` and `GET /v1/batches/<id>` (member-signed).

`POST /v1/reports` stores and acknowledges (`state: accepted`); the merge
consumer merges the batch behind it and `GET /v1/batches/<id>` then answers
`merged` with `merged_at`. A member sees only its own batches: another member's
id answers 404 exactly like an id that does not exist.

Limits: body ≤ 8 MiB (413 beyond, enforced before parsing), ≤ 10,000 reports
per batch, ≤ 10,000 retraction items. An `Idempotency-Key` header makes a
retry safe: the same key with the same body replays the stored answer and
changes nothing; the same key with a different body is a 409.
"""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from hub import db, get_config
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member, signed_path
from hub.errors import ApiError, validation_error
from hub.models.report import ReportBatch
from hub.services import ingest, merge_queue
from schemas.reports import (
    IDEMPOTENCY_KEY_PATTERN,
    BatchRefSchema,
    BatchStateSchema,
    ReportBatchSchema,
    RetractSchema,
)
from schemas.signing import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from schemas.timefmt import utcnow

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")
batches_bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
_BATCH_REF = BatchRefSchema()
_BATCH_STATE = BatchStateSchema()
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
_BATCH = ReportBatchSchema()
_RETRACT = RetractSchema()


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise ApiError(
            422,
            "validation_error",
            f"invalid input: {IDEMPOTENCY_HEADER}",
            {IDEMPOTENCY_HEADER: ["1-128 characters of A-Z a-z 0-9 _ . : -"]},
        )
    return key


@bp.post("")
@require_member
def submit() -> ResponseReturnValue:
    key = _idempotency_key()
    body = request.get_data(cache=True)
    provenance = ingest.Provenance(
        body_sha256=hashlib.sha256(body).hexdigest(),
        signature=request.headers.get(HEADER_SIGNATURE),
        timestamp=request.headers.get(HEADER_TIMESTAMP),
        nonce=request.headers.get(HEADER_NONCE),
        body=body,
        path=signed_path()[:256],
    )
    cfg = get_config()
    now = utcnow()
    # Everything that only reads — the replay check, the in-flight limit, parsing and
    # validating up to 10,000 items — runs before the write transaction opens, so
    # on SQLite the single writer is held only while the batch is stored.
    # (Rolled back, never committed: clearing an expired key is the write transaction's.)
    with db.get_db().new_session(write=False) as reader:
        replay = ingest.find_replay(
            reader, g.member.id, key, provenance.body_sha256, now,
            ttl_s=cfg.idempotency_ttl_s, clear_expired=False,
        ) if key else None
        if replay is not None:
            response = jsonify(replay)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        ingest.check_in_flight(reader, g.member.id, cfg.max_batches_in_flight)
        data = load_body(_BATCH)
        validated = ingest.validate(reader, g.member.id, data["reports"], now)
    session = db.session()
    try:
        with merge_queue.WRITERS:  # this process's consumer lets the write go first
            status, answer = ingest.submit_reports(
                session, g.member.id, data["reports"], provenance=provenance,
                idempotency_key=key, idempotency_ttl_s=cfg.idempotency_ttl_s,
                max_in_flight=cfg.max_batches_in_flight, now=now, validated=validated,
                quota_per_day=cfg.quota_new_indicators_per_day,
            )
            if status == 200:
                session.commit()
            else:
                session.rollback()
        if status == 200:
            merge_queue.WAKE.set()  # this process's consumer starts now, not at its next poll
    except IntegrityError:
        # A concurrent request of the same member won a unique key (PostgreSQL):
        # the same Idempotency-Key → replay its answer; otherwise ask for a retry.
        session.rollback()
        replay = ingest.find_replay(
            session, g.member.id, key, provenance.body_sha256, ttl_s=cfg.idempotency_ttl_s
        )
        if replay is not None:
            return jsonify(replay)
        raise ApiError(
            409, "concurrent_batch", "a concurrent batch touched the same reports; retry"
        ) from None
    return jsonify(answer), status


@bp.post("/retract")
@require_member
def retract() -> ResponseReturnValue:
    data = load_body(_RETRACT)
    session = db.session()
    answer = ingest.retract_reports(
        session, g.member.id, data["items"], policy=get_config().policy
    )
    session.commit()
    return jsonify(answer)


@batches_bp.get("/<batch_id>")
@require_member
def show_batch(batch_id: str) -> ResponseReturnValue:
    """The caller's own batch and its merge state; any other id is 404 `not_found`."""
    try:
        ref = _BATCH_REF.load({"batch_id": batch_id})
    except ValidationError as exc:
        raise validation_error(exc) from None
    batch = db.session().get(ReportBatch, ref["batch_id"])
    if batch is None or batch.member_id != g.member.id or batch.kind != "reports":
        raise ApiError(404, "not_found", "no such batch of yours")
    return jsonify(_BATCH_STATE.dump(merge_queue.batch_view(batch)))
