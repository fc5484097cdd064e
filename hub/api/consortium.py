"""`GET /v1/consortium-key`: the HMAC keys members and screeners hash with."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.auth.reader_tokens import require_reader_or_member
from hub.services import audit, consortium_keys

bp = Blueprint("consortium", __name__, url_prefix="/v1")


@bp.get("/consortium-key")
@require_reader_or_member
def consortium_key() -> ResponseReturnValue:
    """Hand out the epoch keys, and record who received which (docs/ARCHITECTURE.md §2, issue 2).

    A reader token gets the phone keys only; a signed member also the identity
    keys (issue 14). Issuance is audited once per caller, day, audience and
    epoch set (`audit.record_daily`), so a polling screener does not write a
    row per request. The audit row is written in a short transaction of its
    own, so this read never holds a write lock while it answers.
    """
    cfg = get_config()
    token = g.reader_token
    document = consortium_keys.key_document(
        db.session(), consortium_keys.config_wrapping_key(cfg), cfg.consortium_retire_after_s,
        identity=token is None,
    )
    actor = f"reader:{token.id}" if token is not None else f"member:{g.member.id}"
    with db.side_session() as session:
        audit.record_daily(
            session,
            actor,
            "consortium_key.issued",
            g.member.id,
            {"audience": document["audience"],
             "epochs": [key["epoch"] for key in document["keys"]]},
        )
    response = jsonify(document)
    response.headers["Cache-Control"] = "no-store"
    return response
