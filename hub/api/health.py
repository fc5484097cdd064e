"""`GET /healthz` (liveness) and `GET /readyz` (readiness) for load balancers.

`/healthz` only says the process answers and the database round-trips, so an
orchestrator does not restart a hub that is merely waiting for a migration.
`/readyz` says whether this hub should receive traffic: the database answers,
its schema is the revision this code expects (an un-migrated database would
otherwise answer 500 on the first feature), the keys decrypt and the feed
directory is writable. Each failed check is named in the 503 body; no check
echoes a path, key or database URL. `warnings` says what does not stop
traffic but needs the operator (data files readable beyond the hub's user:
the count here, the paths in the log).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from hub import get_config, permission_warnings
from hub.db import get_db, ping
from hub.feeds.builder import keystore_for
from hub.filemodes import private_dir
from hub.services.consortium_keys import config_wrapping_key

bp = Blueprint("health", __name__)
log = logging.getLogger("hub.health")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        ping(get_db())
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


def _check_database() -> str | None:
    try:
        ping(get_db())
    except SQLAlchemyError as exc:
        return f"unreachable ({type(exc).__name__})"
    return None


def _check_schema() -> str | None:
    from hub.schema_state import schema_state

    try:
        state = schema_state(get_config().database_url)
    except SQLAlchemyError as exc:
        return f"unknown ({type(exc).__name__})"
    if state.ok:
        return None
    return f"at {state.current or 'none'}, expected {state.expected}"


def _check_keys() -> str | None:
    cfg = get_config()
    try:
        config_wrapping_key(cfg)
        keystore_for(current_app._get_current_object()).load_current_keys()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any failure means "keys do not load"
        return f"do not load ({type(exc).__name__})"
    return None


def _check_feeds_dir() -> str | None:
    feeds_dir = get_config().feeds_dir
    try:
        private_dir(feeds_dir)
        fd, name = tempfile.mkstemp(prefix=".readyz-", dir=feeds_dir)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"not writable ({type(exc).__name__})"
    return None


READINESS_CHECKS: dict[str, Callable[[], str | None]] = {
    "database": _check_database,
    "schema": _check_schema,
    "keys": _check_keys,
    "feeds_dir": _check_feeds_dir,
}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        if name == "schema" and results.get("database", "ok") != "ok":
            results[name] = "unknown (database unreachable)"
            continue
        results[name] = check() or "ok"
    wide = permission_warnings(get_config())
    warnings: dict[str, str] = {}
    if wide:  # the count only: /readyz is public and echoes no path (the log names them)
        warnings["file_modes"] = f"{len(wide)} data paths readable beyond the hub's user"
        log.warning("readiness: %s", "; ".join(wide))
    not_ready = sorted(name for name, value in results.items() if value != "ok")
    if not_ready:
        log.warning("readiness: not ready (%s)", ", ".join(not_ready))
        return jsonify({"status": "not_ready", "not_ready": not_ready, "checks": results,
                        "warnings": warnings}), 503
    return jsonify({"status": "ready", "checks": results, "warnings": warnings})
