"""Webhook delivery log (issue 19): the newest member webhook events and how they fared,
so an admin can answer "did the hub tell us?" without a database shell."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from hub import db
from hub.console import bp
from hub.console.session import require_signin
from hub.services import webhooks


@bp.get("/webhooks")
@require_signin
def webhooks_page() -> ResponseReturnValue:
    session = db.session()
    return render_template("console/webhooks.html",
                           deliveries=webhooks.console_deliveries(session),
                           hooks=webhooks.webhook_count(session))
