"""`GET /healthz`: liveness plus a database round trip (for load balancers)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from hub.db import get_db, ping

bp = Blueprint("health", __name__)
log = logging.getLogger("hub.health")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        ping(get_db())
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
