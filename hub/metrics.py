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

from flask import Flask, Response, abort, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

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
DATABASE_ERRORS = Counter(
    "lianfang_database_errors_total", "Requests answered 503 because the database failed"
)

ACCESS_MODES = ("off", "token", "addresses")


def _endpoint() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _registry() -> CollectorRegistry | None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return None


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
        if request.endpoint == "reports.submit" and status < 500:
            REPORTS.labels("accepted" if status < 400 else "rejected").inc()
        if status == 429:
            RATE_LIMITED.inc()
        elif status == 503 and request.path != "/readyz":
            DATABASE_ERRORS.inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if not _allowed(app):
            abort(404)
        registry = _registry()
        body = generate_latest(registry) if registry is not None else generate_latest()
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
