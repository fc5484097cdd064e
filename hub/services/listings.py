"""Listings as stored and shown: the merged result per indicator (`remerge` writes them).

What a member may see of a listing (`listing_view`, never who reported it) and
marking a member's listings due for review when its weight changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.report import Report


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
    row = session.execute(
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Indicator.kind == kind, Indicator.value == value)
    ).first()
    if row is None:
        return None
    indicator, listing = row
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
