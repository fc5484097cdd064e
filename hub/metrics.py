"""`GET /metrics`: Prometheus text format, correct under several gunicorn workers.

Each gunicorn worker is a separate process with its own counters, so a scrape
answered by one worker would show only its share. When
`PROMETHEUS_MULTIPROC_DIR` is set (required with more than one worker) every
process writes its samples there and a scrape aggregates them with
`MultiProcessCollector`; `hub/gunicorn_conf.py`'s `child_exit` hook marks a
dead worker's gauges. Labels are bounded sets only — the Flask url rule (never
the raw path, which would carry ids), the method and the status code — so no
identifier, hash or member id can become a label.

Access (`LIANFANG_METRICS_ACCESS`): `off` (404, the default), `token` (bearer
`LIANFANG_METRICS_TOKEN`, compared in constant time) or `addresses` (client
address in the comma-separated `LIANFANG_METRICS_ALLOWED`).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from hub.services.quotas import feed_ceilings

REQUESTS = Counter(
    "lianfang_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "lianfang_http_request_duration_seconds", "Time to answer a request", ["endpoint", "method"]
)
REPORTS = Counter(
    "lianfang_report_requests_total",
    "Report submissions by outcome (accepted: 2xx; rejected: 4xx)",
    ["outcome"],
)
RATE_LIMITED = Counter("lianfang_rate_limit_refusals_total", "Requests refused with 429")
QUOTA_REFUSALS = Counter(
    "lianfang_quota_refusals_total",
    "Requests refused by a quota: new_indicators_per_day (429 quota_exceeded, a member's "
    "daily new-indicator quota) or body_too_large (413, before parsing)",
    ["reason"],
)
OPRF_EVALUATIONS = Counter(
    "lianfang_oprf_evaluations_total",
    "Elements evaluated by POST /v1/oprf/evaluate (issue 20), by caller: `reader` "
    "(reader token) or `member` (signature); a rise is what enumeration looks like",
    ["caller"],
)
DATABASE_ERRORS = Counter(
    "lianfang_database_errors_total", "Requests answered 503 because the database failed"
)

ACCESS_MODES = ("off", "token", "addresses")


def _endpoint() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _is_quota_refusal(response: Response) -> bool:
    """A 429 from a member's quota (`quota_exceeded`), not from a rate limit."""
    if request.endpoint != "reports.submit" or not response.is_json:
        return False
    body = response.get_json(silent=True) or {}
    return isinstance(body, dict) and body.get("error", {}).get("code") == "quota_exceeded"


class FeedCollector:
    """Per-feed gauges read from the published manifests at scrape time.

    Read from disk rather than counted in a worker, so every worker (and a
    scrape after a restart) reports the same published state.
    """

    def __init__(
        self, feeds_dir: Path, max_entries: int | None = None,
        held: dict[str, int | None] | None = None,
    ) -> None:
        self.feeds_dir = feeds_dir
        self.max_entries = max_entries
        self.held = held or {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from hub.feeds.publisher import feed_paths, read_manifest
        from hub.feeds.settings import ALL_FEEDS
        from schemas.timefmt import parse_time

        families = {
            "version": GaugeMetricFamily(
                "lianfang_feed_version", "Version of the live manifest", labels=["feed"]),
            "entries": GaugeMetricFamily(
                "lianfang_feed_entries", "Entries in the live version", labels=["feed"]),
            "bytes": GaugeMetricFamily(
                "lianfang_feed_snapshot_bytes", "Size of the live snapshot artifact",
                labels=["feed"]),
            "issued": GaugeMetricFamily(
                "lianfang_feed_issued_timestamp_seconds",
                "When the live manifest was signed (age = time() - this)", labels=["feed"]),
            "expires": GaugeMetricFamily(
                "lianfang_feed_manifest_expires_timestamp_seconds",
                "When screeners stop trusting the live manifest", labels=["feed"]),
        }
        for feed in ALL_FEEDS:
            try:
                envelope = read_manifest(feed_paths(self.feeds_dir, feed))
            except (OSError, ValueError):
                continue
            if envelope is None:
                continue
            signed = envelope["signed"]
            families["version"].add_metric([feed], float(signed["version"]))
            families["entries"].add_metric([feed], float(signed["entry_count"]))
            families["bytes"].add_metric([feed], float(signed["snapshot"]["size"]))
            families["issued"].add_metric([feed], parse_time(signed["issued_at"]).timestamp())
            families["expires"].add_metric([feed], parse_time(signed["expires_at"]).timestamp())
        yield from families.values()
        if self.max_entries is not None:
            yield GaugeMetricFamily(
                "lianfang_feed_max_entries",
                "LIANFANG_FEED_MAX_ENTRIES: no feed version is published above it",
                value=float(self.max_entries))
        held = GaugeMetricFamily(
            "lianfang_feed_held",
            "1 while a feed is held at its version because the next would pass the ceiling",
            labels=["feed"])
        refused = GaugeMetricFamily(
            "lianfang_feed_refused_entries",
            "Entries the held feed's refused version would have had", labels=["feed"])
        for feed, size in sorted(self.held.items()):
            held.add_metric([feed], 0.0 if size is None else 1.0)
            if size is not None:
                refused.add_metric([feed], float(size))
        yield held
        yield refused


def _held_feeds(app: Flask) -> dict[str, int | None]:
    """feed → entries of its refused version (None: not held), from `feed_state`."""
    from hub.db import get_db

    cfg_feeds = _config(app).feeds
    with get_db(app).new_session(write=False) as session:
        rows = feed_ceilings(session, cfg_feeds.max_entries, cfg_feeds.alert_fraction)
    return {row.feed: row.refused_entries for row in rows}


def _config(app: Flask) -> Any:
    from hub import get_config

    return get_config(app)


class StateCollector:
    """Gauges read from the database and the key directory at scrape time.

    Like `FeedCollector`, the same answer from every worker: publish lag (the
    oldest listing change no feed build has published yet, i.e. how far the
    feeds are behind the merged listings), last publication per feed, and the
    expiry times an operator must act before (feed keys being retired, the
    root's lifetime, retiring consortium epochs). Labels are feed names, key
    kinds and epoch numbers only.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._database()
        yield from self._keys()

    def _database(self) -> Iterator[GaugeMetricFamily]:
        from datetime import timedelta

        from sqlalchemy import func, select
        from sqlalchemy.exc import SQLAlchemyError

        from hub import get_config
        from hub.db import get_db
        from hub.feeds.settings import ALL_FEEDS
        from hub.models.consortium import ConsortiumKey
        from hub.models.feed import FeedState, FeedVersion
        from hub.models.feed_change import FeedChange
        from hub.models.report import PendingMerge
        from schemas.timefmt import utcnow

        pending = GaugeMetricFamily(
            "lianfang_feed_pending_changes",
            "Listing changes merged but not yet in a published version", labels=["feed"])
        lag = GaugeMetricFamily(
            "lianfang_feed_publish_lag_seconds",
            "Age of the oldest merged change not yet published (0 when none)", labels=["feed"])
        published = GaugeMetricFamily(
            "lianfang_feed_published_timestamp_seconds",
            "When the feed's live version was built (age = time() - this)", labels=["feed"])
        merge_pending = GaugeMetricFamily(
            "lianfang_merge_pending",
            "Indicator changes acknowledged but not yet merged by a merge consumer")
        merge_lag = GaugeMetricFamily(
            "lianfang_merge_lag_seconds",
            "Age of the oldest acknowledged change not yet merged (0 when none): "
            "acknowledged -> merged")
        epochs = GaugeMetricFamily(
            "lianfang_consortium_epoch_retires_timestamp_seconds",
            "When a retiring consortium key epoch leaves the feeds", labels=["epoch"])
        cfg = get_config(self.app)
        now = utcnow()
        try:
            with get_db(self.app).new_session(write=False) as session:
                consumed = {feed: last for feed, last in session.execute(
                    select(FeedState.feed, FeedState.last_change_id))}
                for feed in ALL_FEEDS:
                    count, oldest = session.execute(
                        select(func.count(), func.min(FeedChange.created_at)).where(
                            FeedChange.feed == feed,
                            FeedChange.id > consumed.get(feed, 0))
                    ).one()
                    pending.add_metric([feed], float(count))
                    age = (now - oldest).total_seconds() if oldest is not None else 0.0
                    lag.add_metric([feed], max(age, 0.0))
                queued, oldest_queued = session.execute(
                    select(func.count(), func.min(PendingMerge.created_at))).one()
                merge_pending.add_metric([], float(queued))
                merge_lag.add_metric([], max(
                    (now - oldest_queued).total_seconds() if oldest_queued else 0.0, 0.0))
                for feed, last in session.execute(
                    select(FeedVersion.feed, func.max(FeedVersion.published_at))
                    .group_by(FeedVersion.feed)
                ):
                    published.add_metric([feed], last.timestamp())
                for epoch, since in session.execute(
                    select(ConsortiumKey.epoch, ConsortiumKey.retiring_at)
                    .where(ConsortiumKey.state == "retiring")
                ):
                    if since is not None:
                        retires = since + timedelta(seconds=cfg.consortium_retire_after_s)
                        epochs.add_metric([str(epoch)], retires.timestamp())
        except SQLAlchemyError:
            DATABASE_ERRORS.inc()
            return
        yield from (pending, lag, published, merge_pending, merge_lag, epochs)

    def _keys(self) -> Iterator[GaugeMetricFamily]:
        import json
        from datetime import timedelta

        from hub import get_config
        from hub.feeds.keystore import META_FILE
        from schemas.timefmt import parse_time

        cfg = get_config(self.app)
        expiry = GaugeMetricFamily(
            "lianfang_key_expiry_timestamp_seconds",
            "When a signing key stops being trusted or must be rotated: feed keys being "
            "retired, and the root (its statement's expires_at, else created + root lifetime)",
            labels=["key"])
        try:
            meta = json.loads((cfg.keys_dir / META_FILE).read_text())
        except (OSError, ValueError):
            return
        retiring = [parse_time(k["retire_at"]) for k in meta.get("feed_keys", [])
                    if k.get("retire_at")]
        if retiring:
            expiry.add_metric(["feed_retiring"], min(retiring).timestamp())
        chain = meta.get("root_chain") or []
        if chain:
            root_expires = parse_time(chain[-1]["signed"]["expires_at"])
        else:
            created = parse_time(meta["roots"][-1]["created_at"])
            root_expires = created + timedelta(seconds=cfg.feeds.root_lifetime_s)
        expiry.add_metric(["root"], root_expires.timestamp())
        yield expiry


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, LATENCY, REPORTS, RATE_LIMITED, QUOTA_REFUSALS,
                          OPRF_EVALUATIONS, DATABASE_ERRORS):
            registry.register(collector)
    cfg = _config(app)
    collector = FeedCollector(cfg.feeds_dir, cfg.feeds.max_entries, _held_feeds(app))
    registry.register(collector)  # type: ignore[arg-type]
    registry.register(StateCollector(app))  # type: ignore[arg-type]
    return registry


def _allowed(app: Flask) -> bool:
    from hub import get_config

    cfg = get_config(app)
    if cfg.metrics_access == "token":
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {cfg.metrics_token or ''}"
        return bool(cfg.metrics_token) and hmac.compare_digest(given.encode(), expected.encode())
    if cfg.metrics_access == "addresses":
        allowed = {a.strip() for a in cfg.metrics_allowed.split(",") if a.strip()}
        return request.remote_addr in allowed
    return False


def install_metrics(app: Flask) -> None:
    """Count every request and serve `/metrics` according to the access setting."""
    from hub import get_config

    mode = get_config(app).metrics_access
    if mode not in ACCESS_MODES:
        raise ValueError(f"LIANFANG_METRICS_ACCESS must be one of {', '.join(ACCESS_MODES)}")

    @app.before_request
    def _start_timer() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = _endpoint()
        status = response.status_code
        REQUESTS.labels(endpoint, request.method, str(status)).inc()
        started = g.get("metrics_start")
        if started is not None:
            LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        oprf = g.get("oprf_evaluated")
        if oprf is not None and status == 200:
            OPRF_EVALUATIONS.labels(oprf[0]).inc(oprf[1])
        if request.endpoint == "reports.submit" and status < 500:
            REPORTS.labels("accepted" if status < 400 else "rejected").inc()
        if status == 429 and _is_quota_refusal(response):
            QUOTA_REFUSALS.labels("new_indicators_per_day").inc()
        elif status == 429:
            RATE_LIMITED.inc()
        elif status == 413:
            QUOTA_REFUSALS.labels("body_too_large").inc()
        elif status == 503 and request.path != "/readyz":
            DATABASE_ERRORS.inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if not _allowed(app):
            abort(404)
        body = generate_latest(_registry(app))
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
