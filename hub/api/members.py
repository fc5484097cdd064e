"""`GET /v1/members/me`: a signed member reads its own record, weight and key fingerprint.

The weight is the merge weight its reports count with now (0 unless approved,
lowered by delistings) and the fingerprint the one the console shows, so
`lianfang whoami` can confirm out of band which key the hub holds.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db
from hub.auth.member_signature import require_member
from hub.models.report import MemberStanding
from hub.services import membership
from hub.services.remerge import load_weights
from schemas.keys import b64decode, fingerprint

bp = Blueprint("members", __name__, url_prefix="/v1/members")


@bp.get("/me")
@require_member
def me() -> ResponseReturnValue:
    session = db.session()
    member = g.member
    standing = session.get(MemberStanding, member.id)
    body = membership.member_to_dict(member)
    body["weight"] = load_weights(session, [member.id]).get(member.id, 1.0)
    body["dispute_weight"] = standing.dispute_weight if standing is not None else 1.0
    body["key_fingerprint"] = fingerprint(b64decode(member.public_key))
    return jsonify(body)
