"""`GET /v1/members/me`: a signed member reads its own record."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub.auth.member_signature import require_member
from hub.services import membership

bp = Blueprint("members", __name__, url_prefix="/v1/members")


@bp.get("/me")
@require_member
def me() -> ResponseReturnValue:
    return jsonify(membership.member_to_dict(g.member))
