"""Allowlist conflicts: members' legit votes against a number that stands at block or warn.

A consensus allowlist never overrules a block or warn by itself (issue 13): the
number stays where it is and waits here until an admin keeps the listing or
allows the number; either choice is audited.
"""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db, get_config
from hub.console import bp
from hub.console.forms import PER_PAGE, back_with, form_text, invalid, notice_text, page_arg
from hub.console.session import actor, require_signin
from hub.services import allowlist
from hub.services.consortium_keys import config_wrapping_key
from schemas.reports import ConflictDecisionSchema, IndicatorRefSchema

_DECIDE = ConflictDecisionSchema()
_REF = IndicatorRefSchema()


@bp.get("/conflicts")
@require_signin
def conflicts_page() -> ResponseReturnValue:
    page = page_arg()
    items = allowlist.consensus_conflicts(
        db.session(), limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
    )
    return render_template(
        "console/conflicts.html", items=items, page=page, per_page=PER_PAGE,
        notice=notice_text(),
    )


@bp.post("/conflicts/decide")
@require_signin
def decide_conflict() -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": form_text("kind"), "value": form_text("value")})
        data = _DECIDE.load({"decision": form_text("decision"), "note": form_text("note")})
    except ValidationError as exc:
        raise invalid(exc) from None
    cfg = get_config()
    session = db.session()
    allowlist.decide_conflict(
        session, ref["kind"], ref["value"], data["decision"], data["note"], actor=actor(),
        policy=cfg.policy, wrap=config_wrapping_key(cfg),
    )
    session.commit()
    return back_with("console.conflicts_page", f"conflict_{data['decision']}")
