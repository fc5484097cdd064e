"""`POST /v1/admin/login` and `POST /v1/admin/logout`."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from hub import db
from hub.api.request_io import load_body
from hub.auth.admin_auth import login, require_admin
from hub.auth.reader_tokens import bearer_token
from hub.ratelimit import client_address
from hub.services.tokens import revoke_admin_token
from schemas.membership import AdminLoginSchema
from schemas.timefmt import format_time

bp = Blueprint("admin_auth", __name__, url_prefix="/v1/admin")
_SCHEMA = AdminLoginSchema()


@bp.post("/login")
def admin_login() -> ResponseReturnValue:
    data = load_body(_SCHEMA)
    token, expires, admin = login(
        db.session(), data["username"], data["password"], client_address()
    )
    return jsonify({"token": token, "expires_at": format_time(expires), "username": admin.username})


@bp.post("/logout")
@require_admin
def admin_logout() -> ResponseReturnValue:
    session = db.session()
    revoke_admin_token(session, bearer_token() or "")
    session.commit()
    return "", 204
