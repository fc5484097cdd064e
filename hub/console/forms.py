"""Small helpers for reading console forms and query strings without ever raising a 500.

Form bodies are validated with the same marshmallow schemas as the `/v1` API
where one exists; these helpers cover the console-only bits (page numbers,
confirmation boxes, notices after a redirect).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Response

from hub.console.labels import label
from hub.errors import ApiError

PER_PAGE = 50
MAX_PAGE = 100_000

# Notices shown after a redirect: a fixed vocabulary, so a link cannot inject text.
NOTICES: dict[str, Any] = {
    "approve": _l("Application approved"),
    "reject": _l("Application rejected"),
    "suspend": _l("Member suspended"),
    "reinstate": _l("Member reinstated"),
    "revoke": _l("Member revoked"),
    "revoke_rotated": _l("Member revoked and the consortium keys rotated: a new epoch is "
                         "current, the revoked member does not have its keys"),
    "token_revoked": _l("Reader token revoked"),
    "uphold": _l("Dispute resolved: listing upheld"),
    "delist": _l("Dispute resolved: listing delisted"),
    "allow_added": _l("Number added to the allowlist"),
    "allow_exists": _l("That number was already on the allowlist (note updated)"),
    "allow_removed": _l("Allowlist entry removed"),
    "conflict_keep": _l("Conflict settled: the listing stays as it is"),
    "conflict_allow": _l("Conflict settled: the number is on the admin allowlist"),
    "number_verify": _l("Number verified: it is on the admin allowlist from the next build"),
    "number_reject": _l("Number registration rejected"),
    "number_revoke": _l("Number verification revoked: it leaves the allowlist at the next build"),
    "signed_out": _l("Signed out"),
}


def page_arg(name: str = "page") -> int:
    """A 1-based page number from the query string; junk means page 1."""
    raw = request.args.get(name, "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1


def text_arg(name: str, max_len: int = 200) -> str:
    return request.args.get(name, "").strip()[:max_len]


def form_text(name: str) -> str:
    return request.form.get(name, "").strip()


def load_form(schema: Schema, names: list[str]) -> dict[str, Any]:
    """Load the named form fields (empty ones left out) with an API schema."""
    data = {n: form_text(n) for n in names if form_text(n)}
    return schema.load(data)


def require_confirmation(action: str) -> None:
    if request.form.get("confirm") != "yes":
        raise ApiError(
            422,
            "confirmation_required",
            _("Tick the confirmation box to confirm: %(action)s this member.",
              action=label(action, "member_action")),
            fields={"confirm": ["required"]},
        )


def back_with(endpoint: str, notice: str, **values: Any) -> Response:
    """Post/redirect/get: back to a page with one of the fixed notices."""
    return redirect(url_for(endpoint, notice=notice, **values), code=303)


def notice_text() -> str | None:
    notice = NOTICES.get(request.args.get("notice", ""))
    return str(notice) if notice is not None else None


def invalid(exc: ValidationError) -> ApiError:
    fields = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
    return ApiError(422, "validation_error", _("Some fields were not accepted."), fields=fields)
