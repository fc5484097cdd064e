"""Admin views of the merged lists: allowlist, conflicts, complaint groups, quotas."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db, get_config
from hub.api.request_io import load_body, load_query
from hub.auth.admin_auth import require_admin
from hub.errors import validation_error
from hub.services import allowlist, groups, quotas
from hub.services.consortium_keys import config_wrapping_key
from schemas.reports import (
    AllowlistAddSchema,
    ConflictDecisionSchema,
    GroupActionSchema,
    GroupRemoveIndicatorSchema,
    GroupSplitSchema,
    IndicatorRefSchema,
    PageQuerySchema,
)
from schemas.timefmt import utcnow

bp = Blueprint("admin_lists", __name__, url_prefix="/v1/admin")
_ADD = AllowlistAddSchema()
_REF = IndicatorRefSchema()
_PAGE = PageQuerySchema()
_DECIDE = ConflictDecisionSchema()
_GROUP_ACTION = GroupActionSchema()
_GROUP_REMOVE = GroupRemoveIndicatorSchema()
_GROUP_SPLIT = GroupSplitSchema()


def _page(items: list, query: dict) -> ResponseReturnValue:
    return jsonify({"items": items, "limit": query["limit"], "offset": query["offset"]})


@bp.get("/allowlist")
@require_admin
def list_allowlist() -> ResponseReturnValue:
    query = load_query(_PAGE)
    return _page(
        allowlist.entries(db.session(), limit=query["limit"], offset=query["offset"]), query
    )


@bp.post("/allowlist")
@require_admin
def add_allowlist() -> ResponseReturnValue:
    data = load_body(_ADD)
    session = db.session()
    cfg = get_config()
    answer = allowlist.add(
        session, data, actor=g.actor, policy=cfg.policy, wrap=config_wrapping_key(cfg)
    )
    session.commit()
    return jsonify(answer), 201 if answer["created"] else 200


@bp.delete("/allowlist/<kind>/<value>")
@require_admin
def remove_allowlist(kind: str, value: str) -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": kind, "value": value})
    except ValidationError as exc:
        raise validation_error(exc) from None
    session = db.session()
    cfg = get_config()
    allowlist.remove(
        session, ref["kind"], ref["value"], actor=g.actor, policy=cfg.policy,
        wrap=config_wrapping_key(cfg),
    )
    session.commit()
    return "", 204


@bp.get("/conflicts")
@require_admin
def list_conflicts() -> ResponseReturnValue:
    query = load_query(_PAGE)
    return _page(
        allowlist.conflicts(db.session(), limit=query["limit"], offset=query["offset"]), query
    )


@bp.get("/allowlist-conflicts")
@require_admin
def list_allowlist_conflicts() -> ResponseReturnValue:
    query = load_query(_PAGE)
    return _page(
        allowlist.consensus_conflicts(db.session(), limit=query["limit"], offset=query["offset"]),
        query,
    )


@bp.post("/allowlist-conflicts/<kind>/<value>")
@require_admin
def decide_allowlist_conflict(kind: str, value: str) -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": kind, "value": value})
    except ValidationError as exc:
        raise validation_error(exc) from None
    data = load_body(_DECIDE)
    session = db.session()
    answer = allowlist.decide_conflict(
        session, ref["kind"], ref["value"], data["decision"], data["note"], actor=g.actor,
        policy=get_config().policy, wrap=config_wrapping_key(get_config()),
    )
    session.commit()
    return jsonify(answer)


@bp.get("/groups")
@require_admin
def list_groups() -> ResponseReturnValue:
    query = load_query(_PAGE)
    return _page(
        groups.list_groups(db.session(), limit=query["limit"], offset=query["offset"]), query
    )


@bp.get("/quotas")
@require_admin
def quotas_overview() -> ResponseReturnValue:
    """Quotas in use per member and each feed's size against its ceiling (issue 13, item 5)."""
    cfg = get_config()
    return jsonify(quotas.quota_overview(
        db.session(), utcnow(), per_day=cfg.quota_new_indicators_per_day,
        lone_warn_per_member=cfg.policy.lone_warn_per_member,
        max_entries=cfg.feeds.max_entries, alert_fraction=cfg.feeds.alert_fraction,
    ))


@bp.post("/groups/<group_id>/remove-indicator")
@require_admin
def remove_group_indicator(group_id: str) -> ResponseReturnValue:
    data = load_body(_GROUP_REMOVE)
    session = db.session()
    answer = groups.remove_indicator(
        session, group_id, data["kind"], data["value"], data["reason"], actor=g.actor,
        max_joins=get_config().case_max_group_joins,
    )
    session.commit()
    return jsonify(answer)


@bp.post("/groups/<group_id>/split")
@require_admin
def split_group(group_id: str) -> ResponseReturnValue:
    data = load_body(_GROUP_SPLIT)
    session = db.session()
    answer = groups.split_group(
        session, group_id, data["indicators"], data["reason"], actor=g.actor,
        max_joins=get_config().case_max_group_joins,
    )
    session.commit()
    return jsonify(answer)


@bp.post("/groups/<group_id>/dismiss")
@require_admin
def dismiss_group(group_id: str) -> ResponseReturnValue:
    data = load_body(_GROUP_ACTION)
    session = db.session()
    answer = groups.dismiss_group(
        session, group_id, data["reason"], actor=g.actor,
        max_joins=get_config().case_max_group_joins,
    )
    session.commit()
    return jsonify(answer)
