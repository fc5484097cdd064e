"""Member lifecycle actions from a console form, exactly as `POST /v1/admin/members/<id>/<action>`.

The reason is loaded with the API's own schemas (required for reject, suspend
and revoke) and the change goes through `membership.transition`, so the audit
entry names the signed-in admin.
"""

from __future__ import annotations

from marshmallow import ValidationError

from hub import db, get_config
from hub.console.forms import invalid, load_form, require_confirmation
from hub.console.session import actor
from hub.errors import ApiError
from hub.models.member import Member
from hub.services import key_rotation, membership
from schemas.membership import OptionalReasonSchema, ReasonSchema, RevokeSchema

_REASON = ReasonSchema()
_OPTIONAL_REASON = OptionalReasonSchema()
_REVOKE = RevokeSchema()

# Actions that cut a member off: the form must also carry a ticked confirmation box.
CONFIRMED_ACTIONS = frozenset({"suspend", "revoke"})


def transition_from_form(member_id: str, action: str) -> tuple[Member, int | None]:
    """Apply `action`; (member, new consortium-key epoch when a revoke also rotated)."""
    if action not in membership.TRANSITIONS:
        raise ApiError(404, "not_found", f"unknown member action {action!r}")
    needs_reason = membership.TRANSITIONS[action][2]
    try:
        if action == "revoke":
            data = load_form(_REVOKE, ["reason", "rotate_consortium_key"])
        else:
            data = load_form(_REASON if needs_reason else _OPTIONAL_REASON, ["reason"])
    except ValidationError as exc:
        raise invalid(exc) from None
    if action in CONFIRMED_ACTIONS:
        require_confirmation(action)
    session = db.session()
    epoch = None
    if action == "revoke":
        member, epoch = key_rotation.revoke_member(
            session, get_config(), member_id, actor(), data["reason"],
            rotate_keys=data["rotate_consortium_key"],
        )
    else:
        member = membership.transition(
            session, member_id, action, actor(), data.get("reason"),
            case_max_group_joins=get_config().case_max_group_joins,
        )
    session.commit()
    return member, epoch
