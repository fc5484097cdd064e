"""`GET /v1/reports` (member-signed): the calling member's own reports, paged.

Beside `hub/api/reports.py` (which writes reports) so reading one's own record
never touches the ingest path. Only the member's own rows, hashed values only.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db
from hub.api.request_io import load_query
from hub.auth.member_signature import require_member
from hub.services.listings import member_reports
from schemas.reports import MemberReportListQuerySchema

bp = Blueprint("own_reports", __name__, url_prefix="/v1/reports")
_QUERY = MemberReportListQuerySchema()


@bp.get("")
@require_member
def list_own_reports() -> ResponseReturnValue:
    query = load_query(_QUERY)
    items = member_reports(
        db.session(), g.member.id, query["state"], limit=query["limit"], offset=query["offset"]
    )
    return jsonify({"items": items, "limit": query["limit"], "offset": query["offset"]})
