"""A real gunicorn (2 workers) serving an initialised hub, for the metrics and logging tests."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.hubproc import cli_args, hub_env
from tests.helpers.processes import free_port, wait_healthy


@dataclass
class Gunicorn:
    """Where it listens, its combined log file, and the admin password `init` printed."""

    url: str
    log: Path
    admin_password: str
    proc: subprocess.Popen[bytes]


@contextmanager
def gunicorn_hub(
    tmp_path: Path, db_url: str, *extra_args: str, workers: int = 2, **env: str
) -> Iterator[Gunicorn]:
    """`lianfang-hub init` + `build-feeds`, then gunicorn with hub/gunicorn_conf.py."""
    data_dir = tmp_path / "var"
    init = subprocess.run(cli_args(data_dir, db_url, "init"), env=hub_env(), check=True,
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"with password: (\S+)", init.stdout)
    password = found.group(1) if found else ""
    subprocess.run(cli_args(data_dir, db_url, "build-feeds"), env=hub_env(), check=True,
                   capture_output=True, timeout=120)
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir(exist_ok=True)
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers),
         "-b", f"127.0.0.1:{port}", "-c", "python:hub.gunicorn_conf", *extra_args,
         "hub:create_app()"],
        env=hub_env(LIANFANG_DATABASE_URL=db_url, LIANFANG_DATA_DIR=str(data_dir),
                    LIANFANG_SCHEDULER="false", PROMETHEUS_MULTIPROC_DIR=str(prom_dir), **env),
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield Gunicorn(url, log_path, password, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
