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
from hub.services import membership
from schemas.membership import OptionalReasonSchema, ReasonSchema

_REASON = ReasonSchema()
_OPTIONAL_REASON = OptionalReasonSchema()

# Actions that cut a member off: the form must also carry a ticked confirmation box.
CONFIRMED_ACTIONS = frozenset({"suspend", "revoke"})


def transition_from_form(member_id: str, action: str) -> Member:
    if action not in membership.TRANSITIONS:
        raise ApiError(404, "not_found", f"unknown member action {action!r}")
    needs_reason = membership.TRANSITIONS[action][2]
    try:
        data = load_form(_REASON if needs_reason else _OPTIONAL_REASON, ["reason"])
    except ValidationError as exc:
        raise invalid(exc) from None
    if action in CONFIRMED_ACTIONS:
        require_confirmation(action)
    session = db.session()
    member = membership.transition(
        session, member_id, action, actor(), data.get("reason"),
        case_max_group_joins=get_config().case_max_group_joins,
    )
    session.commit()
    return member
