"""The hub's one scheduler: the feed build every `LIANFANG_FEED_BUILD_INTERVAL_S`,
the retention purge every `LIANFANG_PURGE_INTERVAL_S` (`hub.services.retention`) and
the merge consumer (`MergeConsumer`, `hub.services.merge_queue`) and
member webhook delivery every `LIANFANG_WEBHOOK_INTERVAL_S` (`hub.services.webhooks`;
each due event is claimed by compare-and-set, so workers never post one twice at once).

`create_app` calls `start(app)` when `config.scheduler` is on (the default for
`serve`; tests turn it off). Every gunicorn worker may run it: the DB lease in
`hub.feeds.lock` lets one build at a time and the others return `busy`, and a
second lease (`merge-consumer`) lets one hub process of the cluster run the
consumer; `lianfang-hub worker` runs consumers outside that lease (set
`LIANFANG_MERGE_CONSUMER=off` on the hubs then).
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from hub import get_config
from hub.db import get_db
from hub.feeds import lock
from hub.feeds.builder import build_feeds, sync_manifests
from hub.services import merge_queue
from hub.services.retention import purge
from hub.services.webhooks import deliver_due
from schemas.timefmt import utcnow

log = logging.getLogger("hub.feeds")
_EXTENSION = "lianfang_feed_scheduler"
_CONSUMER_EXTENSION = "lianfang_merge_consumer"
CONSUMER_LEASE = "merge-consumer"


class MergeConsumer(threading.Thread):
    """Drains the merge queue until stopped: a pass, then the next, idle-polling when empty.

    With `use_lease` (the consumer inside a hub) it only works while it holds the
    cluster's `merge-consumer` lease, renewed every loop, so N gunicorn workers run
    one consumer between them; a crashed holder's lease expires after
    `LIANFANG_MERGE_LEASE_S`. `lianfang-hub worker` consumers run without it:
    several share the queue through `SKIP LOCKED` (PostgreSQL).
    """

    def __init__(self, app: Flask, *, use_lease: bool = True, name: str = "merge-consumer"):
        super().__init__(name=name, daemon=True)
        self.app = app
        self.use_lease = use_lease
        self.stopping = threading.Event()
        self.holder = lock.new_holder()
        self.passes = 0
        self.lease_lost = False

    def stop(self, timeout: float | None = 10) -> None:
        self.stopping.set()
        merge_queue.WAKE.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def _may_work(self) -> bool:
        if not self.use_lease:
            return True
        database = get_db(self.app)
        ttl = timedelta(seconds=get_config(self.app).merge_lease_s)
        return lock.acquire(database.write_sessions, self.holder, utcnow(), ttl, CONSUMER_LEASE)

    def _count(self, _result: merge_queue.PassResult) -> None:
        """After each pass: renew the lease (a long backlog outlasts its TTL); losing it
        ends this drain, so one consumer per cluster works at a time."""
        self.passes += 1
        if self.use_lease and not self._may_work():
            self.lease_lost = True

    def _stop_draining(self) -> bool:
        return self.stopping.is_set() or self.lease_lost

    def _schema_ready(self, cfg: Any) -> bool:
        """Work only on a database at this code's schema (`serve` refuses others and
        exits; `migrate` may be on its way): no failing passes, no log noise."""
        from hub.schema_state import schema_state

        try:
            return schema_state(cfg.database_url).ok
        except Exception:  # noqa: BLE001 - database unreachable: retried next loop
            return False

    def run(self) -> None:
        cfg = get_config(self.app)
        poll_s = cfg.merge_poll_ms / 1000
        while not self._schema_ready(cfg):
            if self.stopping.wait(max(poll_s, 1.0)):
                return
        while not self.stopping.is_set():
            try:
                self.lease_lost = False
                if self._may_work():
                    merge_queue.drain(
                        get_db(self.app), policy=cfg.policy, limit=cfg.merge_pass_size,
                        should_stop=self._stop_draining, on_pass=self._count,
                    )
            except Exception:  # noqa: BLE001 - a failed pass is rolled back; the rows stay queued
                log.exception("merge pass failed; its rows stay queued and are retried")
                self.stopping.wait(poll_s)
            merge_queue.WAKE.wait(poll_s)
            merge_queue.WAKE.clear()
        if self.use_lease:
            try:
                lock.release(get_db(self.app).write_sessions, self.holder, CONSUMER_LEASE)
            except Exception:  # noqa: BLE001 - the lease expires by itself
                log.warning("could not release the merge-consumer lease; it expires")


def start_consumer(app: Flask, *, use_lease: bool = True) -> MergeConsumer:
    """Start this process's merge consumer (kept on the app; `stop_consumer` ends it)."""
    consumer = MergeConsumer(app, use_lease=use_lease)
    consumer.start()
    app.extensions[_CONSUMER_EXTENSION] = consumer
    return consumer


def stop_consumer(app: Flask) -> None:
    consumer: MergeConsumer | None = app.extensions.pop(_CONSUMER_EXTENSION, None)
    if consumer is not None:
        consumer.stop()


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
    if get_config(app).merge_consumer:
        start_consumer(app)
    atexit.register(stop, app)
    return scheduler


def stop(app: Flask) -> None:
    stop_consumer(app)
    scheduler: BackgroundScheduler | None = app.extensions.pop(_EXTENSION, None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
