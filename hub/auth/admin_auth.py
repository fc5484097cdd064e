"""Admin authentication: password login → bearer session token, and `require_admin`.

Failed logins count per account; after `admin_max_failures` the account is
locked for `admin_lockout_s`. Unknown usernames cost the same scrypt time as
known ones and get the same answer, so the endpoint does not reveal who exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db, get_config
from hub.auth.member_signature import has_signature_headers
from hub.auth.reader_tokens import bearer_token
from hub.errors import ApiError
from hub.models.admin import Admin
from hub.services import audit
from hub.services.passwords import burn_time, hash_password, verify_password
from hub.services.tokens import ADMIN_PREFIX, admin_for_token, issue_admin_token
from schemas.timefmt import utcnow

F = TypeVar("F", bound=Callable[..., Any])


def create_admin(session: Session, username: str, password: str, actor: str = "cli") -> Admin:
    """Add an admin account (password stored as scrypt); ValueError when the name is taken."""
    if session.scalars(select(Admin).where(Admin.username == username)).first() is not None:
        raise ValueError(f"admin {username!r} already exists")
    admin = Admin(
        username=username,
        password_hash=hash_password(password),
        created_at=utcnow(),
        failed_logins=0,
    )
    session.add(admin)
    session.flush()
    audit.record(session, actor, "admin.create", f"admin:{username}", {})
    return admin


def login(session: Session, username: str, password: str) -> tuple[str, datetime, Admin]:
    """Check credentials; returns (token, expires_at, admin) or raises 401/429."""
    cfg = get_config()
    admin = session.scalars(
        select(Admin).where(Admin.username == username).with_for_update()
    ).first()
    now = utcnow()
    if admin is None:
        burn_time(password)
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    if admin.locked_until is not None and admin.locked_until > now:
        raise ApiError(
            429,
            "account_locked",
            "too many failed logins; try again later",
            headers={"Retry-After": str(int((admin.locked_until - now).total_seconds()) + 1)},
        )
    if not verify_password(password, admin.password_hash):
        admin.failed_logins += 1
        if admin.failed_logins >= cfg.admin_max_failures:
            admin.locked_until = now + timedelta(seconds=cfg.admin_lockout_s)
            admin.failed_logins = 0
            audit.record(
                session, f"admin:{admin.username}", "admin.locked", f"admin:{admin.username}", {}
            )
        session.commit()
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    admin.failed_logins = 0
    admin.locked_until = None
    admin.last_login_at = now
    token, expires = issue_admin_token(session, admin, cfg.admin_token_ttl_s)
    audit.record(session, f"admin:{admin.username}", "admin.login", f"admin:{admin.username}", {})
    session.commit()
    return token, expires, admin


def authenticate_admin() -> Admin:
    token = bearer_token()
    if token is None:
        if has_signature_headers():
            raise ApiError(403, "not_admin", "member credentials cannot use the admin API")
        raise ApiError(
            401, "missing_token", "send 'Authorization: Bearer lfa_…' from /v1/admin/login"
        )
    if not token.startswith(ADMIN_PREFIX):
        raise ApiError(403, "not_admin", "this token is not an admin token")
    admin = admin_for_token(db.session(), token)
    if admin is None:
        raise ApiError(401, "invalid_token", "the admin token is unknown, expired or revoked")
    return admin


def require_admin(fn: F) -> F:
    """Decorator: a live admin bearer token; sets `g.admin` and `g.actor` (`admin:<name>`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        admin = authenticate_admin()
        g.admin = admin
        g.actor = f"admin:{admin.username}"
        return fn(*args, **kwargs)

    return cast(F, wrapper)
