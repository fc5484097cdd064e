"""Quotas page and the feed-ceiling banner (issue 13, item 5).

The page shows each member's use of its daily new-indicator quota and of its
lone-warn bound, and each feed's entries against `LIANFANG_FEED_MAX_ENTRIES`.
`feed_ceiling_alerts` feeds the banner every console page shows while a feed is
near its ceiling or held at its version, so admins see it wherever they are.
"""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from hub import db, get_config
from hub.console import bp
from hub.console.session import current_admin, require_signin
from hub.services import quotas
from schemas.timefmt import utcnow


def feed_ceiling_alerts() -> list[quotas.FeedCeiling]:
    """Feeds at `near` or `held` for the signed-in admin's banner (none when signed out).

    Rendered on every page, error pages included: a database failure here shows no
    banner rather than turning the page that reports the failure into a second one.
    """
    try:
        if current_admin() is None:
            return []
        feeds = get_config().feeds
        rows = quotas.feed_ceilings(db.session(), feeds.max_entries, feeds.alert_fraction)
    except SQLAlchemyError:
        return []
    return [row for row in rows if row.level != "ok"]


@bp.get("/quotas")
@require_signin
def quotas_page() -> ResponseReturnValue:
    cfg = get_config()
    overview = quotas.quota_overview(
        db.session(), utcnow(), per_day=cfg.quota_new_indicators_per_day,
        lone_warn_per_member=cfg.policy.lone_warn_per_member,
        max_entries=cfg.feeds.max_entries, alert_fraction=cfg.feeds.alert_fraction,
    )
    return render_template("console/quotas.html", overview=overview,
                           alert_percent=round(100 * cfg.feeds.alert_fraction))
