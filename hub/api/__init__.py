"""Blueprint registration: every HTTP resource of the hub is listed here.

To add yours, append `(module path, blueprint attribute)` to `BLUEPRINTS`
(one line) — each module defines a `flask.Blueprint` with its own url_prefix.
"""

from __future__ import annotations

import importlib

from flask import Flask

BLUEPRINTS: list[tuple[str, str]] = [
    ("hub.api.health", "bp"),
    ("hub.api.applications", "bp"),
    ("hub.api.admin_auth", "bp"),
    ("hub.api.admin_members", "bp"),
    ("hub.api.members", "bp"),
    ("hub.api.reader_tokens", "bp"),
    ("hub.api.webhooks", "bp"),
    ("hub.api.consortium", "bp"),
    ("hub.api.oprf", "bp"),
    ("hub.api.reports", "bp"),
    ("hub.api.own_reports", "bp"),
    ("hub.api.reports", "batches_bp"),
    ("hub.api.cases", "bp"),
    ("hub.api.disputes", "bp"),
    ("hub.api.indicators", "bp"),
    ("hub.api.admin_lists", "bp"),
    ("hub.api.verified_numbers", "bp"),
    ("hub.api.feeds", "bp"),
    ("hub.api.audit", "bp"),
    ("hub.api.taxii", "bp"),
    ("hub.api.openapi", "bp"),
    ("hub.console", "bp"),
]


def register_blueprints(app: Flask) -> None:
    for module_name, attribute in BLUEPRINTS:
        module = importlib.import_module(module_name)
        app.register_blueprint(getattr(module, attribute))
