"""Dashboard and audit page views cost the same however long the audit chain is (issue 14).

Counted, not timed: audit rows materialised and SQL statements per page view,
at two chain lengths ten times apart, each view after the same few new rows.
"""

from __future__ import annotations

from flask import Flask

from tests.console.support import signed_in
from tests.helpers.audit import AuditReads
from tests.helpers.audit import append_entries as _append


def _view_cost(app: Flask, client, path: str) -> tuple[int, int]:  # noqa: ANN001 - FlaskClient
    with AuditReads(app) as reads:
        page = client.get(path)
    assert page.status_code == 200, page.text
    assert "chain broken" not in page.text and "tile broken" not in page.text
    return reads.rows, reads.statements


def test_page_views_cost_the_same_at_300_and_3300_rows(app: Flask) -> None:
    client, _ = signed_in(app)
    for path in ("/console/dashboard", "/console/audit"):
        costs = []
        for grow in (300, 3000):
            _append(app, grow)
            client.get(path)  # verifies what is new since the last view, stores the mark
            _append(app, 5)
            costs.append(_view_cost(app, client, path))
        assert costs[0] == costs[1], (path, costs)
