"""gunicorn settings for the hub: `gunicorn -c python:hub.gunicorn_conf 'hub:create_app()'`.

Only what the metrics need: a dead worker's live gauges are marked in the
Prometheus multiprocess directory so scrapes stop counting it.
"""

from __future__ import annotations

from typing import Any

# Imported when gunicorn reads this file, never inside the SIGCHLD handler: an
# import there can interrupt the arbiter's own import of prometheus_client.
from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)
