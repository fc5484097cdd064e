"""gunicorn settings for the hub: `gunicorn -c python:hub.gunicorn_conf 'hub:create_app()'`.

Only what the metrics need: a dead worker's live gauges are marked in the
Prometheus multiprocess directory so scrapes stop counting it.
"""

from __future__ import annotations

from typing import Any


def on_starting(server: Any) -> None:
    """Say once, in gunicorn's log, which data files are readable beyond the hub's user."""
    from hub import permission_warnings
    from hub.config import resolve_config

    for line in permission_warnings(resolve_config(None)):
        server.log.warning("file modes: %s", line)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
