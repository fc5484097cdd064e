"""Member webhooks (issue 19): register (secret shown once), list, delete, delivery log."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.services import audit, webhooks
from schemas.webhooks import WebhookCreateSchema

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
_CREATE = WebhookCreateSchema()


@bp.post("")
@require_member
def register() -> ResponseReturnValue:
    data = load_body(_CREATE)
    session = db.session()
    row, secret = webhooks.register(session, get_config(), g.member.id, data["url"])
    audit.record(session, f"member:{g.member.id}", "webhook.register", row.id, {})
    session.commit()
    return jsonify({**webhooks.webhook_to_dict(row), "secret": secret}), 201


@bp.get("")
@require_member
def list_webhooks() -> ResponseReturnValue:
    rows = webhooks.member_webhooks(db.session(), g.member.id)
    return jsonify({"items": [webhooks.webhook_to_dict(r) for r in rows]})


@bp.delete("/<webhook_id>")
@require_member
def delete(webhook_id: str) -> ResponseReturnValue:
    session = db.session()
    row = webhooks.owned(session, g.member.id, webhook_id)
    body = webhooks.webhook_to_dict(row)
    session.delete(row)
    audit.record(session, f"member:{g.member.id}", "webhook.delete", webhook_id, {})
    session.commit()
    return jsonify(body)


@bp.get("/<webhook_id>/deliveries")
@require_member
def deliveries(webhook_id: str) -> ResponseReturnValue:
    session = db.session()
    webhooks.owned(session, g.member.id, webhook_id)
    rows = webhooks.deliveries(session, webhook_id)
    return jsonify({"items": [webhooks.delivery_to_dict(r) for r in rows]})
