"""`GET /v1/consortium-key`: the HMAC keys members and screeners hash with."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from hub import db
from hub.auth.reader_tokens import require_reader_or_member
from hub.services import consortium_keys

bp = Blueprint("consortium", __name__, url_prefix="/v1")


@bp.get("/consortium-key")
@require_reader_or_member
def consortium_key() -> ResponseReturnValue:
    response = jsonify(consortium_keys.key_document(db.session()))
    response.headers["Cache-Control"] = "no-store"
    return response
