"""`GET /v1/members/me` and `POST /v1/members/me/key` (member-signed).

A member reads its own record, its merge weight (0 unless approved, lowered by
delistings) and the key fingerprint the console shows, so `lianfang whoami` can
confirm out of band which key the hub holds; and it rotates its own key in place
(its standing stays with its member id).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.models.report import MemberStanding
from hub.services import membership
from hub.services.remerge import load_weights
from schemas.keys import b64decode, fingerprint
from schemas.membership import KeyRotationSchema

bp = Blueprint("members", __name__, url_prefix="/v1/members")
_ROTATION = KeyRotationSchema()


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


@bp.post("/me/key")
@require_member
def rotate_key() -> ResponseReturnValue:
    data = load_body(_ROTATION)
    session = db.session()
    member = membership.get_member(session, g.member.id)
    try:
        membership.rotate_key(
            session, member, data["public_key"], b64decode(data["proof"]),
            actor=f"member:{member.id}",
        )
        session.commit()
    except IntegrityError:  # a concurrent application or rotation took the key first
        session.rollback()
        raise membership.identity_in_use("public_key") from None
    return jsonify(membership.member_to_dict(member))
