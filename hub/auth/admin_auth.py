"""Admin authentication: password login → bearer session token, and `require_admin`.

Failed logins are throttled per (username, client address) with growing delays
(`hub.auth.login_throttle`), never by a lock an outsider could hold on the
account. Unknown usernames cost the same scrypt time as known ones, are
throttled the same way and get the same answers, so the endpoint does not
reveal who exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db, get_config
from hub.auth import login_throttle
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


def login(
    session: Session, username: str, password: str, address: str
) -> tuple[str, datetime, Admin]:
    """Check credentials from client `address`; returns (token, expires_at, admin).

    Raises 401 for a wrong password or an unknown user (same body, same scrypt
    cost) and 429 `login_throttled` while (username, address) is throttled —
    for unknown usernames exactly as for known ones. The scrypt verification
    runs with no transaction open, so a slow hash never holds SQLite's write lock.
    """
    cfg = get_config()
    login_throttle.check(username, address)
    row = session.execute(
        select(Admin.id, Admin.password_hash).where(Admin.username == username)
    ).first()
    session.rollback()  # end the read before hashing: no lock held during scrypt
    if row is None:
        burn_time(password)
        ok = False
    else:
        ok = verify_password(password, row.password_hash)
    if not ok:
        delay = login_throttle.record_failure(
            username, address, cfg.admin_max_failures, cfg.admin_lockout_s
        )
        if delay and row is not None:
            audit.record(
                session, f"admin:{username}", "admin.locked", f"admin:{username}",
                {"address": address, "seconds": delay},
            )
            session.commit()
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    login_throttle.record_success(username, address)
    admin = session.get(Admin, row.id)
    if admin is None:  # deleted between the read and now
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    admin.failed_logins = 0
    admin.locked_until = None
    admin.last_login_at = utcnow()
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
