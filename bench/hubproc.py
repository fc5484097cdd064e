"""A real hub for benches: initialised in a temp dir, served by gunicorn in a subprocess.

Benches that go over HTTP (ingest, delta sync, serving) must measure the hub
as deployed — a separate server process with its own workers, not a thread in
the client's interpreter sharing its GIL — so this starts
`gunicorn -w N 'hub:create_app()'` on a loopback port with `LIANFANG_*`
environment, on SQLite (a temp file) or a fresh PostgreSQL database that is
dropped afterwards. Members are created over the real API (apply + admin
approve), exactly as in tests/helpers/hub.py's `LiveHub`, which is reused.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import ROOT

from tests.helpers.hub import (  # noqa: E402 - the tests' initialised app and HTTP helpers
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    LiveHub,
    make_hub_app,
    postgres_server_url,
)
from tests.helpers.processes import free_port, wait_healthy  # noqa: E402

VENV_BIN = Path(sys.executable).parent  # the interpreter's own venv (worktrees have none)


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    """A fresh database URL: `sqlite` (file in data_dir) or `postgresql` (dropped on exit)."""
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'hub.sqlite3'}"
        return
    from sqlalchemy import create_engine, make_url, text

    server = postgres_server_url()
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"lianfang_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> str | None:
    """None when the PostgreSQL server answers, else why not (the bench then says so)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(postgres_server_url())
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]


def initialise(db_url: str, data_dir: Path) -> LiveHub:
    """Migrate, create keys and consortium epoch 1 and the admin; the app is for in-process
    steps (feed builds) only — requests go to the server process."""
    from hub.auth.admin_auth import create_admin
    from hub.db import get_db

    app = make_hub_app(db_url, data_dir)
    with app.app_context(), get_db(app).new_session() as session:
        create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD, actor="bench")
        session.commit()
    return LiveHub(url="", app=app, data_dir=data_dir)


@contextmanager
def served_hub(db_kind: str = "sqlite", workers: int = 2,
               env: dict[str, str] | None = None) -> Iterator[LiveHub]:
    """A logged-in `LiveHub` whose URL is a gunicorn server with `workers` sync workers."""
    with tempfile.TemporaryDirectory(prefix="lf-bench-hub-") as tmp:
        tmp_path = Path(tmp)
        with database(db_kind, tmp_path) as db_url:
            hub = initialise(db_url, tmp_path / "data")
            port = free_port()
            server_env = {**os.environ, "LIANFANG_DATABASE_URL": db_url,
                          "LIANFANG_DATA_DIR": str(tmp_path / "data"),
                          "LIANFANG_SCHEDULER": "false", "LIANFANG_LOG_LEVEL": "WARNING",
                          "PYTHONPATH": str(ROOT), **(env or {})}
            log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
            proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                 "--timeout", "600", "--log-level", "warning", "hub:create_app()"],
                cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT,
            )
            hub.url = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(hub.url, proc, tmp_path / "gunicorn.log")
                login = hub.http.post(hub.url + "/v1/admin/login", timeout=30,
                                      json={"username": ADMIN_USERNAME,
                                            "password": ADMIN_PASSWORD})
                login.raise_for_status()
                hub.admin_token = login.json()["token"]
                yield hub
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                log.close()
                hub.http.close()
                from hub.db import get_db

                get_db(hub.app).dispose()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        wait_healthy(url, proc)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from None
