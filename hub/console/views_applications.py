"""Applications queue: pending institutions, their details and key fingerprint, and for a
re-application the earlier memberships with the same key or registration number."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from hub import db
from hub.console import bp
from hub.console.forms import PER_PAGE, back_with, notice_text, page_arg
from hub.console.session import require_signin
from hub.console.transitions import transition_from_form
from hub.services import membership
from schemas.enums import MemberState
from schemas.keys import b64decode, fingerprint


def key_fingerprint(public_key_b64: str) -> str:
    """`schemas.keys.fingerprint` of a stored key; a damaged key shows as such."""
    try:
        return fingerprint(b64decode(public_key_b64, length=32))
    except ValueError:
        return _("(unreadable key)")


@bp.get("/applications")
@require_signin
def applications() -> ResponseReturnValue:
    page = page_arg()
    session = db.session()
    rows, total = membership.list_members(
        session, MemberState.PENDING, PER_PAGE, (page - 1) * PER_PAGE
    )
    # A re-application shows the earlier memberships (and the standing approval carries over).
    return render_template(
        "console/applications.html",
        rows=[(m, key_fingerprint(m.public_key), membership.identity_history(session, m))
              for m in rows],
        total=total,
        page=page,
        per_page=PER_PAGE,
        notice=notice_text(),
    )


@bp.post("/applications/<member_id>/approve")
@require_signin
def approve(member_id: str) -> ResponseReturnValue:
    transition_from_form(member_id, "approve")
    return back_with("console.applications", "approve")


@bp.post("/applications/<member_id>/reject")
@require_signin
def reject(member_id: str) -> ResponseReturnValue:
    transition_from_form(member_id, "reject")
    return back_with("console.applications", "reject")
