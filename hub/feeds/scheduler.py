"""The hub's one scheduler: the feed build every `LIANFANG_FEED_BUILD_INTERVAL_S`,
the retention purge every `LIANFANG_PURGE_INTERVAL_S` (`hub.services.retention`) and
member webhook delivery every `LIANFANG_WEBHOOK_INTERVAL_S` (`hub.services.webhooks`;
each due event is claimed by compare-and-set, so workers never post one twice at once).

`create_app` calls `start(app)` when `config.scheduler` is on (the default for
`serve`; tests turn it off). Every gunicorn worker may run it: the DB lease in
`hub.feeds.lock` lets one build at a time and the others return `busy`.
"""

from __future__ import annotations

import atexit
import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from hub import get_config
from hub.feeds.builder import build_feeds, sync_manifests
from hub.services.retention import purge
from hub.services.webhooks import deliver_due

log = logging.getLogger("hub.feeds")
_EXTENSION = "lianfang_feed_scheduler"


def run_build(app: Flask) -> None:
    """One scheduled build; errors are logged, never raised into the scheduler thread."""
    try:
        build_feeds(app)
    except Exception:  # noqa: BLE001 - a failed build must not kill the schedule
        log.exception("scheduled feed build failed; the previous feeds stay live")


def run_purge(app: Flask) -> None:
    """One scheduled retention purge (`hub.services.retention`); errors are logged."""
    try:
        purge(app, get_config(app))
    except Exception:  # noqa: BLE001 - a failed purge must not kill the schedule
        log.exception("scheduled retention purge failed; it runs again next interval")


def run_webhooks(app: Flask) -> None:
    """One scheduled webhook delivery pass; errors are logged, the events stay queued."""
    try:
        deliver_due(app, get_config(app))
    except Exception:  # noqa: BLE001 - a failed pass must not kill the schedule
        log.exception("scheduled webhook delivery failed; pending events retry next interval")


def start(app: Flask) -> BackgroundScheduler:
    """Repair manifests left behind by a crash, then build on an interval."""
    try:
        sync_manifests(app)
    except Exception as exc:  # noqa: BLE001 - e.g. not migrated yet: the job retries later
        log.warning("could not sync feed manifests at start (%s: %s); the build job retries",
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    interval = get_config(app).feed_build_interval_s
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    scheduler.add_job(
        run_build, "interval", args=[app], seconds=interval, id="feed-build",
        max_instances=1, coalesce=True,
        next_run_time=datetime.now().astimezone() + timedelta(seconds=min(5, interval)),
    )
    scheduler.add_job(
        run_purge, "interval", args=[app], id="retention-purge", max_instances=1, coalesce=True,
        seconds=get_config(app).retention.interval_s,
    )
    scheduler.add_job(
        run_webhooks, "interval", args=[app], id="webhook-delivery", max_instances=1,
        coalesce=True, seconds=get_config(app).webhook_interval_s,
    )
    scheduler.start()
    app.extensions[_EXTENSION] = scheduler
    atexit.register(stop, app)
    return scheduler


def stop(app: Flask) -> None:
    scheduler: BackgroundScheduler | None = app.extensions.pop(_EXTENSION, None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
