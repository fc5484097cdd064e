"""Listings as stored and shown: the merged result per indicator (`remerge` writes them).

What a member may see of a listing (`listing_view`, `listing_views` for a
batch lookup; never who reported it), the member's own reports
(`member_reports`), and marking a member's listings due for review when its
weight changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.bulk_sql import chunked
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.report import Report
from schemas.timefmt import format_time


def mark_member_listings(session: Session, member_id: str, now: datetime) -> int:
    """Make every listing this member reported on due for review now, in one UPDATE.

    Its weight changed (suspend, revoke, reinstate, a delisting): `remerge.remerge_due`,
    run before each feed build, re-merges them in bounded chunks, so an admin
    action never re-merges millions of listings inside one request.
    """
    reported = select(Report.indicator_id).where(Report.member_id == member_id)
    result = session.execute(
        update(Listing)
        .where(Listing.indicator_id.in_(reported))
        .values(next_review_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(int(result.rowcount or 0), 0)


def listing_view(session: Session, kind: str, value: str) -> dict[str, Any] | None:
    """The merged listing a member may see (never which members reported it)."""
    return listing_views(session, [(kind, value)]).get((kind, value))


def listing_views(
    session: Session, refs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """`listing_view` of many indicators at once: (kind, value) → view, absent when unlisted.

    One `IN (...)` query per kind and chunk, so a 10,000-value batch lookup costs
    a handful of round trips instead of 10,000.
    """
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in refs:
        by_kind[kind].add(value)
    views: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, values in by_kind.items():
        for chunk in chunked(sorted(values)):
            rows = session.execute(
                select(Indicator, Listing)
                .join(Listing, Listing.indicator_id == Indicator.id)
                .where(Indicator.kind == kind, Indicator.value.in_(chunk))
            )
            for indicator, listing in rows:
                views[(indicator.kind, indicator.value)] = _view(indicator, listing)
    return views


def _view(indicator: Indicator, listing: Listing) -> dict[str, Any]:
    return {
        "kind": indicator.kind,
        "value": indicator.value,
        "key_epoch": indicator.key_epoch,
        "tier": listing.tier,
        "score": listing.score,
        "categories": [c for c in listing.categories.split(",") if c],
        "reporter_count": listing.reporter_count,
        "allowlisted": listing.allowlisted,
        "allow_source": listing.allow_source,
        "held": listing.held,
        "first_seen": listing.first_seen,
        "last_seen": listing.last_seen,
        "updated_at": listing.updated_at,
    }


def member_reports(
    session: Session, member_id: str, state: str | None = None, *, limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The calling member's own reports (hashed values only), oldest first.

    Only its own rows: what other members reported on the same indicator is the
    listing's business (`listing_view`), never a list of reporters.
    """
    stmt = (
        select(Report, Indicator)
        .join(Indicator, Indicator.id == Report.indicator_id)
        .where(Report.member_id == member_id)
    )
    if state:
        stmt = stmt.where(Report.state == state)
    rows = session.execute(stmt.order_by(Report.id).limit(limit).offset(offset)).all()
    return [
        {
            "id": report.id,
            "kind": indicator.kind,
            "value": indicator.value,
            "key_epoch": report.key_epoch,
            "category": report.category,
            "confidence": report.confidence,
            "state": report.state,
            "case_ref": report.case_ref,
            "first_seen": format_time(report.first_seen),
            "last_seen": format_time(report.last_seen),
            "expires_at": format_time(report.expires_at),
            "updated_at": format_time(report.updated_at),
        }
        for report, indicator in rows
    ]
