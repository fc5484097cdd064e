"""Sign-in and sign-out pages.

Sign-in reuses `hub.auth.admin_auth.login`: the lock-out after repeated
failures (`LIANFANG_ADMIN_MAX_FAILURES` / `LIANFANG_ADMIN_LOCKOUT_S`), the same
answer for an unknown user, and the `admin.login` audit entry all come from there.
"""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from hub import db
from hub.auth.admin_auth import login as admin_login
from hub.console import bp
from hub.console.forms import back_with, form_text, notice_text
from hub.console.session import (
    check_csrf,
    current_admin,
    end_session,
    require_signin,
    safe_next,
    session_token,
    start_session,
)
from hub.errors import ApiError
from hub.services.tokens import revoke_admin_token

MAX_FIELD = 200


def _login_page(status: int = 200, error: str | None = None) -> Response:
    html = render_template(
        "console/login.html",
        error=error,
        next=request.values.get("next", ""),
        username=form_text("username")[:MAX_FIELD],
        notice=notice_text(),
    )
    return make_response(html, status)


@bp.get("/login")
def login() -> ResponseReturnValue:
    if current_admin() is not None:
        return redirect(safe_next(request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_submit() -> ResponseReturnValue:
    check_csrf()
    username = form_text("username")
    password = request.form.get("password", "")
    if not username or not password or len(username) > MAX_FIELD or len(password) > 1000:
        return _login_page(422, _("Enter your username and password."))
    try:
        token, _expires, _admin = admin_login(db.session(), username, password)
    except ApiError as err:
        if err.status == 429:
            page = _login_page(
                429, _("Too many failed sign-ins: this account is locked for a while. "
                       "Try again later."),
            )
            page.headers.update(err.headers)  # Retry-After
            return page
        return _login_page(401, _("Wrong username or password."))
    response = redirect(safe_next(request.form.get("next")), code=303)
    return start_session(response, token)


@bp.post("/logout")
@require_signin
def logout() -> ResponseReturnValue:
    session = db.session()
    revoke_admin_token(session, session_token() or "")
    session.commit()
    return end_session(back_with("console.login", "signed_out"))


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("console.dashboard"))
