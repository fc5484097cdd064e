"""Allowlist: add a verified official number (hashed by the hub, raw value dropped), remove
an entry, and the conflicts where members still report an allowlisted number.

The raw number is only ever in this request's form body: it is handed to
`allowlist.add` (which hashes it with the current consortium key) and never
logged, stored, echoed back into a page or put in a redirect URL.
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
from schemas.reports import AllowlistAddSchema, IndicatorRefSchema

_ADD = AllowlistAddSchema()
_REF = IndicatorRefSchema()


@bp.get("/allowlist")
@require_signin
def allowlist_page() -> ResponseReturnValue:
    page = page_arg()
    session = db.session()
    offset = (page - 1) * PER_PAGE
    return render_template(
        "console/allowlist.html",
        entries=allowlist.entries(session, limit=PER_PAGE + 1, offset=offset),
        conflicts=allowlist.conflicts(session, limit=100),
        page=page,
        per_page=PER_PAGE,
        notice=notice_text(),
    )


@bp.post("/allowlist/add")
@require_signin
def allowlist_add() -> ResponseReturnValue:
    raw = form_text("raw_number")
    form = {"raw_number": raw, "region": (form_text("region") or "CN").upper(),
            "note": form_text("note")}
    try:
        data = _ADD.load(form)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
        raise invalid(ValidationError(messages)) from None
    session = db.session()
    cfg = get_config()
    answer = allowlist.add(
        session, data, actor=actor(), policy=cfg.policy, wrap=config_wrapping_key(cfg)
    )
    session.commit()
    notice = "allow_added" if answer["created"] else "allow_exists"
    return back_with("console.allowlist_page", notice)


@bp.post("/allowlist/remove")
@require_signin
def allowlist_remove() -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": form_text("kind"), "value": form_text("value")})
    except ValidationError as exc:
        raise invalid(exc) from None
    session = db.session()
    cfg = get_config()
    allowlist.remove(
        session, ref["kind"], ref["value"], actor=actor(), policy=cfg.policy,
        wrap=config_wrapping_key(cfg),
    )
    session.commit()
    return back_with("console.allowlist_page", "allow_removed")
