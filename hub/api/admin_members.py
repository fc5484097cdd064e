"""Admin member management: list, show, and the lifecycle actions."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body, load_query
from hub.auth.admin_auth import require_admin
from hub.errors import ApiError
from hub.services import key_rotation, membership
from schemas.membership import (
    MemberListQuerySchema,
    OptionalReasonSchema,
    ReasonSchema,
    RevokeSchema,
)

bp = Blueprint("admin_members", __name__, url_prefix="/v1/admin/members")
_LIST = MemberListQuerySchema()
_REASON = ReasonSchema()
_OPTIONAL_REASON = OptionalReasonSchema()
_REVOKE = RevokeSchema()


@bp.get("")
@require_admin
def list_members() -> ResponseReturnValue:
    query = load_query(_LIST)
    rows, total = membership.list_members(
        db.session(), query["state"], query["limit"], query["offset"]
    )
    return jsonify(
        {
            "items": [membership.member_to_dict(m) for m in rows],
            "total": total,
            "limit": query["limit"],
            "offset": query["offset"],
        }
    )


@bp.get("/<member_id>")
@require_admin
def show_member(member_id: str) -> ResponseReturnValue:
    session = db.session()
    member = membership.get_member(session, member_id)
    answer = membership.member_to_dict(member)
    answer["identity_history"] = membership.identity_history(session, member)
    return jsonify(answer)


@bp.post("/<member_id>/<action>")
@require_admin
def act_on_member(member_id: str, action: str) -> ResponseReturnValue:
    if action not in membership.TRANSITIONS:
        raise ApiError(404, "not_found", f"unknown member action {action!r}")
    session = db.session()
    if action == "revoke":
        data = load_body(_REVOKE)
        member, epoch = key_rotation.revoke_member(
            session, get_config(), member_id, g.actor, data["reason"],
            rotate_keys=data["rotate_consortium_key"],
        )
        session.commit()
        answer = membership.member_to_dict(member)
        if epoch is not None:
            answer["rotated_epoch"] = epoch
        return jsonify(answer)
    needs_reason = membership.TRANSITIONS[action][2]
    data = load_body(_REASON) if needs_reason else load_body(_OPTIONAL_REASON, required=False)
    member = membership.transition(
        session, member_id, action, g.actor, data.get("reason"),
        case_max_group_joins=get_config().case_max_group_joins,
    )
    session.commit()
    return jsonify(membership.member_to_dict(member))
