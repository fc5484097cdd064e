"""Disputes queue: the listing, how many members reported it, categories, the reason; resolve."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db, get_config
from hub.console import bp
from hub.console.forms import PER_PAGE, back_with, invalid, load_form, notice_text, page_arg
from hub.console.queries import disputes_with_listing
from hub.console.session import actor, require_signin
from hub.services import disputes
from schemas.enums import DisputeState
from schemas.reports import DisputeResolutionSchema

_RESOLUTION = DisputeResolutionSchema()
STATES = tuple(state.value for state in DisputeState)


@bp.get("/disputes")
@require_signin
def disputes_page() -> ResponseReturnValue:
    page = page_arg()
    raw_state = request.args.get("state", DisputeState.OPEN.value)
    state = raw_state if raw_state in STATES else None
    items, total = disputes_with_listing(
        db.session(), state, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return render_template(
        "console/disputes.html",
        items=items,
        total=total,
        page=page,
        per_page=PER_PAGE,
        state=state or "all",
        states=STATES,
        notice=notice_text(),
    )


@bp.post("/disputes/<int:dispute_id>/resolve")
@require_signin
def resolve_dispute(dispute_id: int) -> ResponseReturnValue:
    try:
        data = load_form(_RESOLUTION, ["resolution", "reason"])
    except ValidationError as exc:
        raise invalid(exc) from None
    session = db.session()
    disputes.resolve(
        session, dispute_id, data["resolution"], data["reason"], actor=actor(),
        policy=get_config().policy,
    )
    session.commit()
    return back_with("console.disputes_page", data["resolution"])
