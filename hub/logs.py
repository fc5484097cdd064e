"""One logging set-up for `lianfang-hub serve` and gunicorn (docs/OPERATIONS.md, "Logs").

Every line carries the time, the level, the process id, the logger and the
request id; `LIANFANG_LOG_FORMAT=json` writes the same fields as one JSON
object per line (python-json-logger). `dict_config()` is what both entry points
install: `serve` calls `configure()`, gunicorn reads it as `logconfig_dict`
from hub/gunicorn_conf.py, so gunicorn's own messages look like the hub's.

Request ids: a valid incoming `X-Request-ID` (1–64 of `A-Za-z0-9._-`, what a
proxy such as nginx's `$request_id` sends) is kept, anything else is replaced
by a fresh one; it is answered in `X-Request-ID` and appears on every line
logged during the request. The access line names the route *rule*
(`/v1/members/<member_id>`), never the raw path or query string, so no id,
hash, phone number or token in a URL reaches the log.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

ACCESS_LOGGER = "hub.access"
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s [%(process)d] %(name)s request_id=%(request_id)s %(message)s"
)
JSON_FIELDS = "%(asctime)s %(levelname)s %(process)d %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Put the current request's id (or `-`) on every record the handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = (
                g.get("request_id", "-") if has_request_context() else "-"
            )
        return True


def dict_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The `logging.config.dictConfig` both `serve` and gunicorn use."""
    formatter: dict[str, Any] = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": JSON_FIELDS,
         "rename_fields": {"levelname": "level", "asctime": "time"}}
        if fmt == "json"
        else {"format": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "hub",
               "filters": ["request_id"], "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"hub": formatter},
        "handlers": {"hub": handler},
        "root": {"level": "WARNING", "handlers": ["hub"]},
        "loggers": {
            "hub": {"level": level.upper(), "handlers": ["hub"], "propagate": False},
            "gunicorn.error": {"level": "INFO", "handlers": ["hub"], "propagate": False},
            # gunicorn's access line has the raw target (ids, query strings): hub.access
            # replaces it
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            # the embedded server's own request lines would duplicate hub.access
            "werkzeug": {"level": "WARNING", "handlers": ["hub"], "propagate": False},
        },
    }


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Install `dict_config` in this process (`lianfang-hub serve`)."""
    logging.config.dictConfig(dict_config(level, fmt))


def request_id() -> str:
    """The id of the current request (kept from X-Request-ID when valid)."""
    return str(g.get("request_id", "-"))


def install_request_logging(app: Flask, access_log: bool) -> None:
    """Give every request an id, answer it in X-Request-ID, write one access line."""
    access = logging.getLogger(ACCESS_LOGGER)

    @app.before_request
    def _assign_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _answer_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        if access_log:
            started = g.get("request_started", time.perf_counter())
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            access.info(
                "%s %s %s %.1fms %s", request.method, rule, response.status_code,
                (time.perf_counter() - started) * 1000, request.remote_addr or "-",
                extra={"method": request.method, "route": rule,
                       "status": response.status_code, "request_id": rid or "-"},
            )
        return response
