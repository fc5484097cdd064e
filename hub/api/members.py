"""`GET /v1/members/me` and `POST /v1/members/me/key` (member-signed): a member reads its
own record, and rotates its own key in place (its standing stays with its member id)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.services import membership
from schemas.keys import b64decode
from schemas.membership import KeyRotationSchema

bp = Blueprint("members", __name__, url_prefix="/v1/members")
_ROTATION = KeyRotationSchema()


@bp.get("/me")
@require_member
def me() -> ResponseReturnValue:
    return jsonify(membership.member_to_dict(g.member))


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
