"""Dashboard: reports per day by category (30 days), each feed's version/entries/size over
time, and the audit-log chain status — charts are server-rendered SVG."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select

from hub import db
from hub.console import bp
from hub.console.labels import label
from hub.console.queries import feed_history, reports_per_day
from hub.console.session import require_signin
from hub.console.svg import PALETTE, Series, compact_number, legend, line_chart, stacked_bars
from hub.models.dispute import Dispute
from hub.models.member import Member
from hub.services import audit
from schemas.enums import Category, DisputeState, Feed, MemberState
from schemas.timefmt import utcnow

DAYS = 30
CATEGORY_COLORS = {c.value: PALETTE[i % len(PALETTE)] for i, c in enumerate(Category)}
FEED_COLORS = {f.value: PALETTE[i % len(PALETTE)] for i, f in enumerate(Feed)}


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M:%S")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _series(history: dict[str, list[Any]], names: dict[str, str], field: str) -> list[Series]:
    """One line per feed: `field` of each published version over its publication time."""
    return [
        Series(names[f], [(v.published_at.timestamp(), getattr(v, field)) for v in rows],
               FEED_COLORS[f])
        for f, rows in history.items()
    ]


@bp.get("/dashboard")
@require_signin
def dashboard() -> ResponseReturnValue:
    session = db.session()
    now = utcnow()
    per_day = reports_per_day(session, now, DAYS)
    days = sorted(per_day)
    stacks = {c: [per_day[d].get(c, 0) for d in days] for c in CATEGORY_COLORS}
    category_names = {c: label(c, "category") for c in CATEGORY_COLORS}
    feed_names = {f: label(f, "feed") for f in FEED_COLORS}
    reports_chart = stacked_bars(
        [d.strftime("%m-%d") for d in days], stacks, CATEGORY_COLORS,
        title=_("Reports per day by category, last %(days)d days", days=DAYS),
        names=category_names,
    )
    history = feed_history(session)
    entries_chart = line_chart(
        _series(history, feed_names, "entry_count"),
        title=_("Entries per feed over time"), x_format=_day, integer=True,
    )
    size_chart = line_chart(
        _series(history, feed_names, "bytes"),
        title=_("Published artifact bytes per feed over time"), x_format=_day,
        y_format=lambda b: human_bytes(b),
    )
    version_chart = line_chart(
        _series(history, feed_names, "version"),
        title=_("Feed version over time"), x_format=_day, y_format=compact_number, integer=True,
    )
    feeds = [
        {"feed": f, "latest": rows[-1] if rows else None} for f, rows in history.items()
    ]
    chain_ok, broken_at = audit.verify_incremental(session)
    pending = session.scalar(
        select(func.count()).select_from(Member).where(Member.state == MemberState.PENDING.value)
    )
    open_disputes = session.scalar(
        select(func.count()).select_from(Dispute).where(Dispute.state == DisputeState.OPEN.value)
    )
    return render_template(
        "console/dashboard.html",
        reports_chart=reports_chart,
        report_total=sum(sum(v) for v in stacks.values()),
        category_legend=legend(CATEGORY_COLORS, category_names),
        feed_legend=legend(FEED_COLORS, feed_names),
        entries_chart=entries_chart,
        size_chart=size_chart,
        version_chart=version_chart,
        feeds=feeds,
        human_bytes=human_bytes,
        chain_ok=chain_ok,
        broken_at=broken_at,
        pending=int(pending or 0),
        open_disputes=int(open_disputes or 0),
    )
