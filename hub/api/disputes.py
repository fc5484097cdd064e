"""Disputes: members open and list their own (`POST`/`GET /v1/disputes`); admins list
and resolve them all."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body, load_query
from hub.auth.admin_auth import require_admin
from hub.auth.member_signature import require_member
from hub.services import disputes
from schemas.reports import (
    DisputeListQuerySchema,
    DisputeResolutionSchema,
    DisputeSchema,
    MemberDisputeListQuerySchema,
)

bp = Blueprint("disputes", __name__, url_prefix="/v1")
_DISPUTE = DisputeSchema()
_RESOLUTION = DisputeResolutionSchema()
_LIST = DisputeListQuerySchema()
_MEMBER_LIST = MemberDisputeListQuerySchema()


@bp.post("/disputes")
@require_member
def open_dispute() -> ResponseReturnValue:
    data = load_body(_DISPUTE)
    session = db.session()
    cfg = get_config()
    answer = disputes.open_dispute(
        session, data["kind"], data["value"], data["reason"], member_id=g.member.id,
        evidence=data["evidence"],
        policy=cfg.policy, max_open_per_member=cfg.max_open_disputes_per_member,
        cooloff_days=cfg.dispute_cooloff_days,
    )
    session.commit()
    # 202 with the same body shape whether or not the hub knew the value.
    return jsonify(disputes.member_receipt(answer)), 202


@bp.get("/disputes")
@require_member
def member_disputes() -> ResponseReturnValue:
    query = load_query(_MEMBER_LIST)
    items = disputes.member_disputes(
        db.session(), g.member.id, query["state"], limit=query["limit"], offset=query["offset"]
    )
    return jsonify({"items": items, "limit": query["limit"], "offset": query["offset"]})


@bp.post("/admin/disputes")
@require_admin
def admin_open_dispute() -> ResponseReturnValue:
    data = load_body(_DISPUTE)
    session = db.session()
    cfg = get_config()
    answer = disputes.open_dispute(
        session, data["kind"], data["value"], data["reason"], admin=g.actor,
        policy=cfg.policy, max_open_per_member=cfg.max_open_disputes_per_member,
        cooloff_days=cfg.dispute_cooloff_days,
    )
    session.commit()
    return jsonify(answer), 201


@bp.get("/admin/disputes")
@require_admin
def list_disputes() -> ResponseReturnValue:
    query = load_query(_LIST)
    items = disputes.list_disputes(
        db.session(), query["state"], limit=query["limit"], offset=query["offset"]
    )
    return jsonify({"items": items, "limit": query["limit"], "offset": query["offset"]})


@bp.post("/admin/disputes/<int:dispute_id>/resolve")
@require_admin
def resolve(dispute_id: int) -> ResponseReturnValue:
    data = load_body(_RESOLUTION)
    session = db.session()
    answer = disputes.resolve(
        session, dispute_id, data["resolution"], data["reason"], actor=g.actor,
        policy=get_config().policy,
    )
    session.commit()
    return jsonify(answer)
