"""`POST /v1/applications`: an institution applies for membership (public)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from hub import db
from hub.api.request_io import load_body
from hub.services import membership
from schemas.membership import ApplicationSchema

bp = Blueprint("applications", __name__, url_prefix="/v1/applications")
_SCHEMA = ApplicationSchema()


@bp.post("")
def apply() -> ResponseReturnValue:
    data = load_body(_SCHEMA)
    session = db.session()
    try:
        member = membership.apply(session, data)
        session.commit()
    except IntegrityError:
        # A concurrent application won the live-membership unique index: apply
        # again, which now sees it and answers 409 identity_in_use on its field.
        session.rollback()
        member = membership.apply(session, data)
        session.commit()
    return jsonify({"id": member.id, "state": member.state, "key_id": member.key_id}), 201
