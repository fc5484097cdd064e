"""Members: state, join date, report counts, open disputes, weight; lifecycle actions; tokens."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from hub import db
from hub.console import bp
from hub.console.forms import PER_PAGE, back_with, notice_text, page_arg
from hub.console.queries import member_figures
from hub.console.session import actor, require_signin
from hub.console.transitions import CONFIRMED_ACTIONS, transition_from_form
from hub.console.views_applications import key_fingerprint
from hub.errors import ApiError
from hub.services import audit, membership, tokens
from schemas.enums import MemberState

MEMBER_ACTIONS = ("suspend", "reinstate", "revoke")


def _state_filter() -> MemberState | None:
    raw = request.args.get("state", "")
    return MemberState(raw) if raw in {s.value for s in MemberState} else None


@bp.get("/members")
@require_signin
def members() -> ResponseReturnValue:
    page = page_arg()
    state = _state_filter()
    session = db.session()
    rows, total = membership.list_members(session, state, PER_PAGE, (page - 1) * PER_PAGE)
    return render_template(
        "console/members.html",
        rows=rows,
        figures=member_figures(session, [m.id for m in rows]),
        total=total,
        page=page,
        per_page=PER_PAGE,
        state=state.value if state else "",
        states=[s.value for s in MemberState],
        notice=notice_text(),
    )


@bp.get("/members/<member_id>")
@require_signin
def member_detail(member_id: str) -> ResponseReturnValue:
    session = db.session()
    member = membership.get_member(session, member_id)
    allowed = [
        a for a in MEMBER_ACTIONS if member.state in membership.TRANSITIONS[a][0]
    ]
    return render_template(
        "console/member.html",
        member=member,
        fingerprint=key_fingerprint(member.public_key),
        figures=member_figures(session, [member.id])[member.id],
        reader_tokens=tokens.list_reader_tokens(session, member.id),
        actions=allowed,
        needs_reason={a: membership.TRANSITIONS[a][2] for a in allowed},
        confirmed=CONFIRMED_ACTIONS,
        history=audit.entries(session, subject=member.id, limit=20),
        notice=notice_text(),
    )


@bp.post("/members/<member_id>/<action>")
@require_signin
def member_action(member_id: str, action: str) -> ResponseReturnValue:
    if action not in MEMBER_ACTIONS:
        raise ApiError(404, "not_found", f"unknown member action {action!r}")
    _, epoch = transition_from_form(member_id, action)
    notice = "revoke_rotated" if epoch is not None else action
    return back_with("console.member_detail", notice, member_id=member_id)


@bp.post("/members/<member_id>/reader-tokens/<token_id>/revoke")
@require_signin
def revoke_reader_token(member_id: str, token_id: str) -> ResponseReturnValue:
    session = db.session()
    membership.get_member(session, member_id)
    row = tokens.revoke_reader_token(session, member_id, token_id)
    audit.record(session, actor(), "reader_token.revoke", row.id, {"member": member_id})
    session.commit()
    return back_with("console.member_detail", "token_revoked", member_id=member_id)
