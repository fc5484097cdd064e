"""Small helpers for reading console forms and query strings without ever raising a 500.

Form bodies are validated with the same marshmallow schemas as the `/v1` API
where one exists; these helpers cover the console-only bits (page numbers,
confirmation boxes, notices after a redirect).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Response

from hub.errors import ApiError

PER_PAGE = 50
MAX_PAGE = 100_000

# Notices shown after a redirect: a fixed vocabulary, so a link cannot inject text.
NOTICES: dict[str, str] = {
    "approve": "Application approved",
    "reject": "Application rejected",
    "suspend": "Member suspended",
    "reinstate": "Member reinstated",
    "revoke": "Member revoked",
    "token_revoked": "Reader token revoked",
    "uphold": "Dispute resolved: listing upheld",
    "delist": "Dispute resolved: listing delisted",
    "allow_added": "Number added to the allowlist",
    "allow_exists": "That number was already on the allowlist (note updated)",
    "allow_removed": "Allowlist entry removed",
    "conflict_keep": "Conflict settled: the listing stays as it is",
    "conflict_allow": "Conflict settled: the number is on the admin allowlist",
    "signed_out": "Signed out",
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
            f"Tick the confirmation box to {action} this member.",
            fields={"confirm": ["required"]},
        )


def back_with(endpoint: str, notice: str, **values: Any) -> Response:
    """Post/redirect/get: back to a page with one of the fixed notices."""
    return redirect(url_for(endpoint, notice=notice, **values), code=303)


def notice_text() -> str | None:
    return NOTICES.get(request.args.get("notice", ""))


def invalid(exc: ValidationError) -> ApiError:
    fields = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
    return ApiError(422, "validation_error", "Some fields were not accepted.", fields=fields)
