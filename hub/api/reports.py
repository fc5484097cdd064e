"""`POST /v1/reports` and `POST /v1/reports/retract` (member-signed).

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
from sqlalchemy.exc import IntegrityError

from hub import db, get_config
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.errors import ApiError
from hub.services import ingest
from schemas.reports import IDEMPOTENCY_KEY_PATTERN, ReportBatchSchema, RetractSchema
from schemas.signing import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP

bp = Blueprint("reports", __name__, url_prefix="/v1/reports")
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
    )
    session = db.session()
    cfg = get_config()
    replay = ingest.find_replay(
        session, g.member.id, key, provenance.body_sha256, ttl_s=cfg.idempotency_ttl_s
    )
    if replay is not None:
        response = jsonify(replay)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    data = load_body(_BATCH)
    try:
        status, answer = ingest.submit_reports(
            session, g.member.id, data["reports"], provenance=provenance, idempotency_key=key,
            policy=cfg.policy, idempotency_ttl_s=cfg.idempotency_ttl_s,
            quota_per_day=cfg.quota_new_indicators_per_day,
        )
        if status == 200:
            session.commit()
        else:
            session.rollback()
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
