"""Read-only figures the console shows beside the services' own views.

No decisions are made here (the services own the domain rules): these are
counts and joins for display — per-member report counts, open disputes and
weight; disputes with their listing; audit search; dashboard series.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models.audit import AuditEntry
from hub.models.dispute import Dispute
from hub.models.feed import FeedVersion
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.member import Member
from hub.models.report import MemberStanding, Report, ReportBatch
from hub.services.disputes import dispute_view
from schemas.enums import DisputeState, Feed

DEFAULT_WEIGHT = 1.0


def member_figures(session: Session, member_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per member: reports by state, open disputes against its reports, merge weight."""
    out: dict[str, dict[str, Any]] = {
        m: {"reports": {}, "reports_total": 0, "open_disputes": 0, "weight": DEFAULT_WEIGHT}
        for m in member_ids
    }
    if not member_ids:
        return out
    for member_id, state, count in session.execute(
        select(Report.member_id, Report.state, func.count())
        .where(Report.member_id.in_(member_ids))
        .group_by(Report.member_id, Report.state)
    ):
        out[member_id]["reports"][state] = int(count)
        out[member_id]["reports_total"] += int(count)
    for member_id, count in session.execute(
        select(Report.member_id, func.count(func.distinct(Dispute.id)))
        .join(Dispute, Dispute.indicator_id == Report.indicator_id)
        .where(Report.member_id.in_(member_ids), Dispute.state == DisputeState.OPEN.value)
        .group_by(Report.member_id)
    ):
        out[member_id]["open_disputes"] = int(count)
    for member_id, weight in session.execute(
        select(MemberStanding.member_id, MemberStanding.weight).where(
            MemberStanding.member_id.in_(member_ids)
        )
    ):
        out[member_id]["weight"] = float(weight)
    return out


def disputes_with_listing(
    session: Session, state: str | None, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Disputes (oldest first) with the listing's reporters, categories, tier and score."""
    stmt = (
        select(Dispute, Indicator, Listing)
        .join(Indicator, Indicator.id == Dispute.indicator_id)
        .outerjoin(Listing, Listing.indicator_id == Dispute.indicator_id)
    )
    count = select(func.count()).select_from(Dispute)
    if state:
        stmt = stmt.where(Dispute.state == state)
        count = count.where(Dispute.state == state)
    rows = session.execute(stmt.order_by(Dispute.id).limit(limit).offset(offset)).all()
    items = []
    openers = dict(session.execute(
        select(Member.id, Member.name).where(
            Member.id.in_(sorted({d.opened_by_member for d, _, _ in rows if d.opened_by_member}))
        )
    ).all())
    standings = {
        row.member_id: row for row in session.scalars(
            select(MemberStanding).where(MemberStanding.member_id.in_(sorted(openers)))
        )
    } if openers else {}
    for dispute, indicator, listing in rows:
        view = dispute_view(dispute, indicator)
        view["opened_by_institution"] = openers.get(dispute.opened_by_member or "")
        if dispute.opened_by_member:  # the disputer's standing: dismissed disputes lower it
            standing = standings.get(dispute.opened_by_member)
            view["opener_dispute_weight"] = standing.dispute_weight if standing else 1.0
            view["opener_dismissed"] = standing.dismissed_count if standing else 0
        reporters = session.scalar(
            select(func.count(func.distinct(Report.member_id))).where(
                Report.indicator_id == indicator.id
            )
        )
        view.update(
            reporters=int(reporters or 0),
            active_reporters=listing.reporter_count if listing else 0,
            categories=[c for c in (listing.categories.split(",") if listing else []) if c],
            tier=listing.tier if listing else "none",
            score=listing.score if listing else 0.0,
        )
        items.append(view)
    return items, int(session.scalar(count) or 0)


def search_audit(
    session: Session, *, actor: str, action: str, subject: str, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Newest-first audit entries whose actor/action/subject contain the given text."""
    stmt = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    for column, text in ((AuditEntry.actor, actor), (AuditEntry.action, action),
                         (AuditEntry.subject, subject)):
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            condition = column.ilike(pattern, escape="\\")
            stmt = stmt.where(condition)
            count = count.where(condition)
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), int(session.scalar(count) or 0)


def reports_per_day(session: Session, now: datetime, days: int = 30) -> dict[date, dict[str, int]]:
    """Reports per UTC day and category, by the day a member last sent them (its batch).

    Grouped per batch in SQL (few rows) and bucketed into days here, which works
    the same on SQLite and PostgreSQL.
    """
    first_day = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    out: dict[date, dict[str, int]] = {
        first_day + timedelta(days=i): defaultdict(int) for i in range(days)
    }
    rows = session.execute(
        select(ReportBatch.created_at, Report.category, func.count())
        .join(ReportBatch, ReportBatch.id == Report.batch_id)
        .where(ReportBatch.created_at >= since)
        .group_by(ReportBatch.id, ReportBatch.created_at, Report.category)
    )
    for created_at, category, count in rows:
        day = created_at.date()
        if day in out:
            out[day][category] += int(count)
    return out


def feed_history(session: Session, limit_per_feed: int = 200) -> dict[str, list[FeedVersion]]:
    """The latest published versions per feed, oldest first (the dashboard's time series)."""
    out: dict[str, list[FeedVersion]] = {}
    for feed in Feed:
        rows = session.scalars(
            select(FeedVersion)
            .where(FeedVersion.feed == feed.value)
            .order_by(FeedVersion.version.desc())
            .limit(limit_per_feed)
        ).all()
        out[feed.value] = list(reversed(rows))
    return out
