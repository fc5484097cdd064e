"""`POST /v1/cases` (member-signed): indicators seen together in one complaint episode."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.services import groups
from schemas.reports import CaseSchema

bp = Blueprint("cases", __name__, url_prefix="/v1/cases")
_CASE = CaseSchema()


@bp.post("")
@require_member
def submit_case() -> ResponseReturnValue:
    data = load_body(_CASE)
    session = db.session()
    answer = groups.submit_case(session, g.member.id, data)
    session.commit()
    return jsonify(answer), 201
