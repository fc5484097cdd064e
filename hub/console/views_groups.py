"""Complaint groups: size, institutions, categories, first/last seen, indicators by kind.

Details come from `groups.group_record` — the same record the complaint-groups
feed publishes — so a group shows them once it is listed (>= 2 institutions).
Only hashes are shown; the hub never had anything else.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from hub import db
from hub.console import bp
from hub.console.forms import PER_PAGE, page_arg
from hub.console.session import require_signin
from hub.errors import ApiError
from hub.services import groups

GROUP_LABEL_MAX = 24


def by_kind(record: dict[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for indicator in (record or {}).get("indicators", []):
        out[indicator["kind"]].append(indicator["value"])
    return dict(sorted(out.items()))


@bp.get("/groups")
@require_signin
def groups_page() -> ResponseReturnValue:
    page = page_arg()
    session = db.session()
    rows = groups.list_groups(session, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    items = []
    for row in rows[:PER_PAGE]:
        record = groups.group_record(session, row["group_id"]) if row["listed"] else None
        counts = {kind: len(values) for kind, values in by_kind(record).items()}
        items.append({**row, "record": record, "kind_counts": counts})
    return render_template(
        "console/groups.html", items=items, page=page, has_next=len(rows) > PER_PAGE
    )


@bp.get("/groups/<group_id>")
@require_signin
def group_detail(group_id: str) -> ResponseReturnValue:
    record = (
        groups.group_record(db.session(), group_id) if len(group_id) <= GROUP_LABEL_MAX else None
    )
    if record is None:
        raise ApiError(404, "not_found", _("No listed complaint group %(group)s.", group=group_id))
    return render_template("console/group.html", record=record, kinds=by_kind(record))
