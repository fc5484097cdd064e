"""Console sign-in state: the admin session token in a cookie, and CSRF tokens.

Why the foundation's admin token and not Flask's signed session: sign-in goes
through `hub.auth.admin_auth.login` (the same scrypt check, lock-out and audit
entry as `POST /v1/admin/login`), sign-out revokes the token server-side, and
the hub needs no extra signing secret shared between gunicorn workers.

CSRF: once signed in, a form's token is HMAC-SHA256 keyed by the session token
(which scripts cannot read: the cookie is HttpOnly), so it is per session and
needs no storage. Before sign-in there is no session yet, so the sign-in form
uses a random pre-session cookie that the form must echo (double submit).
Every comparison is `hmac.compare_digest`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from flask import Response, g, redirect, request, url_for

from hub import db, get_config
from hub.models.admin import Admin
from hub.services.tokens import ADMIN_PREFIX, MAX_TOKEN_LEN, admin_for_token

F = TypeVar("F", bound=Callable[..., Any])

SESSION_COOKIE = "lianfang_console"
PRESESSION_COOKIE = "lianfang_console_pre"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
_CSRF_LABEL = b"lianfang-console-csrf-v1"
_PRESESSION_MAX_AGE_S = 3600


class CsrfError(Exception):
    """A state-changing console request without a valid CSRF token (answered 400)."""


def session_token() -> str | None:
    """The admin token from the console cookie, when it looks like one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not token.startswith(ADMIN_PREFIX) or len(token) > MAX_TOKEN_LEN:
        return None
    return token


def current_admin() -> Admin | None:
    """The signed-in admin (live, unrevoked token), cached on `g`."""
    if "console_admin" not in g:
        token = session_token()
        g.console_admin = admin_for_token(db.session(), token) if token else None
    return g.console_admin


def csrf_token() -> str:
    """The token forms must carry: bound to the session, or to the pre-session cookie."""
    token = session_token()
    if token is not None and current_admin() is not None:
        return hmac.new(token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).hexdigest()
    pre = g.get("console_presession") or request.cookies.get(PRESESSION_COOKIE)
    if not pre or len(pre) > 100:
        pre = secrets.token_urlsafe(32)
    g.console_presession = pre
    return pre


def check_csrf() -> None:
    """Raise CsrfError unless the posted form carries this session's token."""
    sent = request.form.get(CSRF_FIELD, "")
    token = session_token()
    if token is not None and current_admin() is not None:
        expected = hmac.new(token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).hexdigest()
    else:
        expected = request.cookies.get(PRESESSION_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError()


def _secure() -> bool:
    """Secure cookies over TLS — also behind a TLS-terminating proxy, which the hub
    knows from an `https://` LIANFANG_PUBLIC_URL."""
    return request.is_secure or get_config().public_url.startswith("https://")


def remember_presession(response: Response) -> Response:
    """Set the pre-session cookie when a page minted one (sign-in form)."""
    pre = g.get("console_presession")
    if pre and request.cookies.get(PRESESSION_COOKIE) != pre:
        response.set_cookie(
            PRESESSION_COOKIE, pre, max_age=_PRESESSION_MAX_AGE_S, path=COOKIE_PATH,
            secure=_secure(), httponly=True, samesite="Lax",
        )
    return response


def start_session(response: Response, token: str) -> Response:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=get_config().admin_token_ttl_s, path=COOKIE_PATH,
        secure=_secure(), httponly=True, samesite="Lax",
    )
    response.delete_cookie(PRESESSION_COOKIE, path=COOKIE_PATH)
    return response


def end_session(response: Response) -> Response:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=_secure(), httponly=True, samesite="Lax"
    )
    return response


def actor() -> str:
    """The audit-log actor of the signed-in admin, as the API writes it."""
    admin = current_admin()
    assert admin is not None
    return f"admin:{admin.username}"


def require_signin(fn: F) -> F:
    """Pages and actions for a signed-in admin; POSTs also need the CSRF token.

    Unsigned visitors are sent to the sign-in page (a POST is not replayed).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_admin() is None:
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("console.login", next=target))
        if request.method == "POST":
            check_csrf()
        return fn(*args, **kwargs)

    return cast(F, wrapper)


def safe_next(target: str | None) -> str:
    """Only same-site console paths after sign-in; anything else goes to the dashboard.

    Why decode before checking: `%0d%0a` would split the Location header in a
    less careful server, `%2f%2f` and `%5c` become `//` and `\\` in some
    browsers (protocol-relative: another site), and `..` segments climb out of
    `/console`. A target is kept only when neither its raw nor its decoded form
    contains any of those, so no `next` can make a 500 or an open redirect.
    """
    if not target or len(target) > 2000 or not _is_console_path(target):
        return url_for("console.dashboard")
    return target


_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]|//")


def _is_console_path(target: str) -> bool:
    decoded = target
    for _ in range(3):  # double and triple encoding
        if _UNSAFE.search(decoded) or not decoded.isascii():
            return False
        decoded = unquote(decoded)
    if _UNSAFE.search(decoded) or not decoded.isascii():
        return False
    path = decoded.split("?", 1)[0].split("#", 1)[0]
    if any(segment in ("..", ".") for segment in path.split("/")):
        return False
    return target.startswith(COOKIE_PATH + "/") and decoded.startswith(COOKIE_PATH + "/")
