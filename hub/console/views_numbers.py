"""Verified institution numbers (号码认证, issue 16): registrations awaiting an admin.

Pending registrations come first; each row shows the registering member's name
beside the display name it asked for, so a `中国工商银行` claimed by another
institution stands out. Verify, reject and revoke go through
`verified_numbers.decide` (audited, a note is required).
"""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db, get_config
from hub.console import bp
from hub.console.forms import PER_PAGE, back_with, form_text, invalid, notice_text, page_arg
from hub.console.session import actor, require_signin
from hub.services import verified_numbers
from hub.services.consortium_keys import config_wrapping_key
from schemas.numbers import NumberDecisionSchema, NumberListQuerySchema, NumberState

_DECIDE = NumberDecisionSchema()
_LIST = NumberListQuerySchema()


@bp.get("/numbers")
@require_signin
def numbers_page() -> ResponseReturnValue:
    page = page_arg()
    try:
        state = _LIST.load({"state": request.args.get("state") or NumberState.PENDING.value})[
            "state"]
    except ValidationError as exc:
        raise invalid(exc) from None
    items = verified_numbers.admin_numbers(
        db.session(), state, wrap=config_wrapping_key(get_config()), limit=PER_PAGE + 1,
        offset=(page - 1) * PER_PAGE,
    )
    return render_template(
        "console/numbers.html", items=items, page=page, per_page=PER_PAGE, state=state,
        states=[s.value for s in NumberState], notice=notice_text(),
    )


@bp.post("/numbers/decide")
@require_signin
def decide_number() -> ResponseReturnValue:
    try:
        registration_id = int(form_text("id"))
    except ValueError:
        raise invalid(ValidationError({"id": ["Not a valid integer."]})) from None
    try:
        data = _DECIDE.load({"decision": form_text("decision"), "note": form_text("note")})
    except ValidationError as exc:
        raise invalid(exc) from None
    cfg = get_config()
    session = db.session()
    verified_numbers.decide(
        session, registration_id, data["decision"], data["note"], actor=actor(),
        policy=cfg.policy, wrap=config_wrapping_key(cfg),
    )
    session.commit()
    return back_with("console.numbers_page", f"number_{data['decision']}")
