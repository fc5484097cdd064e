"""Shared fixtures: databases (SQLite and PostgreSQL), the app, and a live hub on loopback.

- `db_url`: an empty database URL, parametrised `sqlite` (a temp file) and
  `postgresql` (a fresh schema inside a per-worker database). PostgreSQL is
  skipped with a message when no server answers, and fails instead when
  `LIANFANG_REQUIRE_POSTGRES=1` (CI). `LIANFANG_TEST_POSTGRES_URL` picks the server.
- `hub_app`: `create_app` on a temp data dir, migrated, master key and consortium
  epoch 1 created, scheduler off, no admin.
- `live_hub`: the same app served by werkzeug on 127.0.0.1:<free port> in a
  thread, with an admin logged in; helpers drive it over real HTTP.
"""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, make_url, text

from tests.helpers.hub import LiveHub, make_hub_app, postgres_server_url, serve_hub


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session and xdist worker."""
    server_url = postgres_server_url()
    admin_engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"lianfang_t_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable server"
        admin_engine.dispose()
        message = f"PostgreSQL not reachable at {server_url}: {str(exc).splitlines()[0]}"
        if os.environ.get("LIANFANG_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema (search_path)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    base = request.getfixturevalue("postgres_database")
    schema = f"t_{secrets.token_hex(6)}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def hub_app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    from hub.db import get_db

    app = make_hub_app(db_url, tmp_path / "data")
    try:
        yield app
    finally:
        get_db(app).dispose()


@pytest.fixture
def live_hub(db_url: str, tmp_path: Path) -> Iterator[LiveHub]:
    with serve_hub(db_url, tmp_path / "data") as hub:
        yield hub
