"""`POST /v1/cases` (member-signed): indicators seen together in one complaint episode;
`POST /v1/cases/<id>/retract`: the member withdraws its own case.

Both answer only the member's own case (id, state, indicator count): never whether
a value was known, grouped or listed (docs/THREAT_MODEL.md, complaint-group abuse).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
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
    cfg = get_config()
    answer = groups.submit_case(
        session, g.member.id, data,
        ttl_days=cfg.case_ttl_days, max_joins=cfg.case_max_group_joins,
    )
    session.commit()
    return jsonify(answer), 201


@bp.post("/<int:case_id>/retract")
@require_member
def retract_case(case_id: int) -> ResponseReturnValue:
    session = db.session()
    answer = groups.retract_case(
        session, g.member.id, case_id, max_joins=get_config().case_max_group_joins
    )
    session.commit()
    return jsonify(answer)
