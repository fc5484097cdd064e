"""gunicorn settings for the hub: `gunicorn -c python:hub.gunicorn_conf 'hub:create_app()'`.

- Configuration is checked once, when gunicorn reads this file: a malformed or
  unknown `LIANFANG_*` variable stops gunicorn with one line (`Error: …`, exit 1)
  instead of a traceback from every worker that fails to boot.
- Logging: `logconfig_dict` is `hub.logs.dict_config`, the same set-up as
  `lianfang-hub serve` — time, level, pid, logger and request id on every
  line, text or JSON (`LIANFANG_LOG_FORMAT`); gunicorn's own lines included.
  The hub writes its own access line (`hub.access`), so leave `--access-logfile` off.
- Metrics: a dead worker's live gauges are marked in the Prometheus
  multiprocess directory so scrapes stop counting it.

Workers, timeouts and binding stay on the command line (docs/OPERATIONS.md,
"Production recipe").
"""

from __future__ import annotations

import sys
from typing import Any

# Imported when gunicorn reads this file, never inside the SIGCHLD handler: an
# import there can interrupt the arbiter's own import of prometheus_client.
from prometheus_client import multiprocess

from hub.config import ConfigError, resolve_config
from hub.logs import dict_config

try:
    _config = resolve_config(None)
except ConfigError as _exc:
    sys.stderr.write(f"Error: {_exc}\n")
    sys.exit(1)

logconfig_dict = dict_config(_config.log_level, _config.log_format)


def on_starting(server: Any) -> None:
    """Say once, in gunicorn's log, which data files are readable beyond the hub's user."""
    from hub import permission_warnings
    from hub.config import resolve_config

    for line in permission_warnings(resolve_config(None)):
        server.log.warning("file modes: %s", line)


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)
