"""The Lianfang hub: `create_app(config=None)` builds the Flask application.

`config` is a `hub.config.HubConfig`, a dict of overrides applied on top of the
`LIANFANG_*` environment, or None for the environment alone; a malformed or
unknown setting raises `hub.config.ConfigError` naming it, before anything starts.
The factory does no schema migration (run `lianfang-hub init` or `hub.db.migrate`), so several
gunicorn workers can start at once without racing on DDL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.config import HubConfig, resolve_config

if TYPE_CHECKING:  # the package imports without Flask, so `hub.launcher` can say what is missing
    from flask import Flask

__all__ = ["HubConfig", "create_app", "get_config", "permission_warnings"]

_CONFIG_KEY = "LIANFANG"


def permission_warnings(cfg: HubConfig) -> list[str]:
    """Paths of `cfg`'s data readable beyond the hub's user (see `hub.filemodes`).

    The SQLite database may live outside the data directory
    (`LIANFANG_DATABASE_URL`), so its file and its -wal/-shm companions are
    checked wherever they are.
    """
    from hub.db import sqlite_path
    from hub.filemodes import permission_warnings as wider_paths

    database = sqlite_path(cfg.database_url)
    extra = () if database is None else tuple(
        database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")
    )
    return wider_paths(cfg.data_dir, extra)


def create_app(config: HubConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build the hub app: config, database, error handlers, blueprints, scheduler."""
    from flask import Flask

    from hub import db
    from hub.api import register_blueprints
    from hub.errors import register_error_handlers
    from hub.limits import install_request_limits
    from hub.logs import install_request_logging
    from hub.metrics import install_metrics
    from hub.ratelimit import install_rate_limits

    cfg = resolve_config(config)
    app = Flask(__name__)
    app.config[_CONFIG_KEY] = cfg
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    logging.getLogger("hub").setLevel(cfg.log_level.upper())

    db.init_app(app, cfg.database_url)
    register_error_handlers(app)
    install_request_logging(app, cfg.access_log)
    install_metrics(app)
    install_request_limits(app)
    install_rate_limits(app, cfg)
    register_blueprints(app)
    _trust_proxies(app, cfg)
    if cfg.scheduler:
        from hub.feeds import scheduler

        scheduler.start(app)
    return app


def _trust_proxies(app: Flask, cfg: HubConfig) -> None:
    """Honour `X-Forwarded-For`/`-Proto` from `LIANFANG_TRUSTED_PROXIES` hops.

    Per-address rate limits and the console's `Secure` cookie need the real
    client address and scheme behind a TLS proxy. Only the hop count the
    operator declares is trusted (a client cannot spoof its way past it), and
    the path is never rewritten: member signatures cover the raw request target.
    """
    hops = cfg.trusted_proxies
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def get_config(app: Flask | None = None) -> HubConfig:
    """The HubConfig of `app` (default: the current app)."""
    from flask import current_app

    target = app if app is not None else current_app
    return target.config[_CONFIG_KEY]
