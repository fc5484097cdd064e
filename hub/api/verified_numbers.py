"""Verified institution numbers (号码认证, issue 16): members register their own numbers
(`/v1/numbers`), admins verify, reject or revoke them (`/v1/admin/verified-numbers`)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body, load_query
from hub.auth.admin_auth import require_admin
from hub.auth.member_signature import require_member
from hub.services import verified_numbers
from hub.services.consortium_keys import config_wrapping_key
from schemas.numbers import NumberDecisionSchema, NumberListQuerySchema, NumberRegistrationSchema

bp = Blueprint("verified_numbers", __name__, url_prefix="/v1")
_REGISTER = NumberRegistrationSchema()
_DECIDE = NumberDecisionSchema()
_LIST = NumberListQuerySchema()


def _page(items: list, query: dict) -> ResponseReturnValue:
    return jsonify({"items": items, "limit": query["limit"], "offset": query["offset"]})


@bp.post("/numbers")
@require_member
def register_number() -> ResponseReturnValue:
    data = load_body(_REGISTER)
    session = db.session()
    answer, created = verified_numbers.register(
        session, g.member.id, data, wrap=config_wrapping_key(get_config())
    )
    session.commit()
    return jsonify(answer), 201 if created else 200


@bp.get("/numbers")
@require_member
def own_numbers() -> ResponseReturnValue:
    query = load_query(_LIST)
    return _page(verified_numbers.member_numbers(
        db.session(), g.member.id, query["state"], wrap=config_wrapping_key(get_config()),
        limit=query["limit"], offset=query["offset"],
    ), query)


@bp.get("/numbers/reputation")
@require_member
def own_reputation() -> ResponseReturnValue:
    """How other institutions report the member's verified numbers (no identities)."""
    return jsonify({"items": verified_numbers.reputation(
        db.session(), g.member.id, wrap=config_wrapping_key(get_config()))})


@bp.delete("/numbers/<int:registration_id>")
@require_member
def withdraw_number(registration_id: int) -> ResponseReturnValue:
    session = db.session()
    cfg = get_config()
    verified_numbers.withdraw(session, g.member.id, registration_id, policy=cfg.policy,
                              wrap=config_wrapping_key(cfg))
    session.commit()
    return "", 204


@bp.get("/admin/verified-numbers")
@require_admin
def list_registrations() -> ResponseReturnValue:
    query = load_query(_LIST)
    return _page(verified_numbers.admin_numbers(
        db.session(), query["state"], wrap=config_wrapping_key(get_config()),
        limit=query["limit"], offset=query["offset"],
    ), query)


@bp.post("/admin/verified-numbers/<int:registration_id>")
@require_admin
def decide_registration(registration_id: int) -> ResponseReturnValue:
    data = load_body(_DECIDE)
    session = db.session()
    cfg = get_config()
    answer = verified_numbers.decide(
        session, registration_id, data["decision"], data["note"], actor=g.actor,
        policy=cfg.policy, wrap=config_wrapping_key(cfg),
    )
    session.commit()
    return jsonify(answer)
