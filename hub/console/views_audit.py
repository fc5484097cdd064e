"""Audit log: search by actor/action/subject, paginated, with the chain verification result."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from hub import db
from hub.console import bp
from hub.console.forms import PER_PAGE, page_arg, text_arg
from hub.console.queries import search_audit
from hub.console.session import require_signin
from hub.services import audit


@bp.get("/audit")
@require_signin
def audit_page() -> ResponseReturnValue:
    page = page_arg()
    filters = {name: text_arg(name, 100) for name in ("actor", "action", "subject")}
    session = db.session()
    rows, total = search_audit(
        session, **filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    ok, broken_at = audit.verify_incremental(session)
    return render_template(
        "console/audit.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        chain_ok=ok,
        broken_at=broken_at,
    )
