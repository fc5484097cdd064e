"""The association admin console: server-rendered pages under `/console/`.

Every action calls the same service functions as the `/v1` admin API, so it is
audited as `admin:<name>`. Errors are HTML pages (never the `/v1` JSON shape),
and bad form input is a 4xx page, never a 500. No JavaScript; the one
stylesheet is `hub/static/console/console.css`; charts are inline SVG.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from hub.console.session import CsrfError, csrf_token, current_admin, remember_presession
from hub.errors import ApiError

bp = Blueprint("console", __name__, url_prefix="/console")

# Content-Security-Policy: only our own stylesheet, no scripts at all.
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def error_page(status: int, title: str, message: str, fields: dict | None = None) -> Response:
    html = render_template(
        "console/error.html", status=status, title=title, message=message, fields=fields or {}
    )
    return Response(html, status=status, mimetype="text/html")


@bp.errorhandler(CsrfError)
def _csrf(_err: CsrfError) -> ResponseReturnValue:
    return error_page(
        400,
        "Form expired or forged",
        "This form did not carry a valid security token. Reload the page and try again.",
    )


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> ResponseReturnValue:
    page = error_page(err.status, err.code.replace("_", " ").capitalize(), err.message, err.fields)
    page.headers.update(err.headers)  # e.g. Retry-After on a 429
    return page


@bp.errorhandler(ValidationError)
def _validation(err: ValidationError) -> ResponseReturnValue:
    fields = err.messages if isinstance(err.messages, dict) else {"form": err.messages}
    return error_page(422, "Please check the form", "Some fields were not accepted.", fields)


@bp.errorhandler(HTTPException)
def _http(err: HTTPException) -> ResponseReturnValue:
    return error_page(err.code or 500, err.name, err.description or err.name)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return remember_presession(response)


@bp.context_processor
def _template_globals() -> dict:
    return {"csrf_token": csrf_token, "console_admin": current_admin}


# Routes register themselves on `bp` when their module is imported.
from hub.console import (  # noqa: E402,F401
    views_allowlist,
    views_applications,
    views_audit,
    views_auth,
    views_conflicts,
    views_dashboard,
    views_disputes,
    views_groups,
    views_members,
)
