"""The association admin console: server-rendered pages under `/console/`.

Every action calls the same service functions as the `/v1` admin API, so it is
audited as `admin:<name>`. Errors are HTML pages (never the `/v1` JSON shape),
and bad form input is a 4xx page, never a 500. No JavaScript; the one
stylesheet is `hub/static/console/console.css`; charts are inline SVG.
Pages are Simplified Chinese by default, English on request (`hub.console.i18n`).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from hub.console.i18n import html_lang, init_babel, language_switch, remember_language, when
from hub.console.labels import label, labels
from hub.console.session import CsrfError, csrf_token, current_admin, remember_presession
from hub.errors import ApiError

bp = Blueprint("console", __name__, url_prefix="/console")
bp.add_app_template_filter(label, "label")
bp.add_app_template_filter(labels, "labels")
bp.add_app_template_filter(when, "when")


@bp.record_once
def _babel(state: BlueprintSetupState) -> None:
    init_babel(state.app)


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
        _("Form expired or forged"),
        _("This form did not carry a valid security token. Reload the page and try again."),
    )


# Titles for the service errors a console action can meet; the message after the title
# is the service's own (shared with the /v1 API, which stays English for machines).
ERROR_TITLES = {
    "not_found": _l("Not found"),
    "validation_error": _l("Please check the form"),
    "confirmation_required": _l("Confirmation required"),
    "illegal_transition": _l("This action is not possible in the member's current state"),
    "dispute_closed": _l("This dispute is already closed"),
    "rate_limited": _l("Too many requests"),
    "too_many_requests": _l("Too many requests"),
    "conflict": _l("Conflict"),
}
# HTTP errors raised inside a console route (a malformed or oversized form body, an
# abort): title and explanation in the reader's language. Unknown paths never reach the
# blueprint, so they keep Flask's plain 404 page.
HTTP_ERRORS = {
    400: (_l("Bad request"), _l("The browser sent a request the console cannot read.")),
    403: (_l("Forbidden"), _l("You are not allowed to do this.")),
    404: (_l("Page not found"), _l("There is no such page in the console.")),
    405: (_l("Method not allowed"), _l("This address does not accept that kind of request.")),
    413: (_l("Request too large"), _l("The form sent was larger than the hub accepts.")),
    429: (_l("Too many requests"), _l("Too many requests in a short time. Try again later.")),
}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> ResponseReturnValue:
    title = ERROR_TITLES.get(err.code) or err.code.replace("_", " ").capitalize()
    page = error_page(err.status, str(title), err.message, err.fields)
    page.headers.update(err.headers)  # e.g. Retry-After on a 429
    return page


@bp.errorhandler(ValidationError)
def _validation(err: ValidationError) -> ResponseReturnValue:
    fields = err.messages if isinstance(err.messages, dict) else {"form": err.messages}
    return error_page(422, _("Please check the form"), _("Some fields were not accepted."), fields)


@bp.errorhandler(HTTPException)
def _http(err: HTTPException) -> ResponseReturnValue:
    known = HTTP_ERRORS.get(err.code or 500)
    if known is None:
        return error_page(err.code or 500, err.name, err.description or err.name)
    return error_page(err.code or 500, str(known[0]), str(known[1]))


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return remember_language(remember_presession(response))


@bp.context_processor
def _template_globals() -> dict:
    from hub.console.views_quotas import feed_ceiling_alerts

    return {"csrf_token": csrf_token, "console_admin": current_admin, "html_lang": html_lang,
            "language_switch": language_switch, "feed_ceiling_alerts": feed_ceiling_alerts}


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
    views_numbers,
    views_quotas,
    views_webhooks,
)
