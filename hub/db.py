"""Engines and sessions: one engine per app, one Session per request.

SQLite is the embedded default and is made to behave under concurrency:
WAL (readers do not block the writer), `busy_timeout` (a writer waits instead of
failing), foreign keys on, and write transactions start with `BEGIN IMMEDIATE`
(SQLAlchemy's documented pysqlite recipe) so two writers serialise at BEGIN
instead of one failing with "database is locked" when it upgrades a read lock.
Read-only requests (GET/HEAD/OPTIONS) use a deferred BEGIN and never wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hub.filemodes import create_private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "lianfang_sqlite_begin"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_EXTENSION = "lianfang_db"


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    if not is_sqlite_url(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine for `url` with the SQLite pragmas and BEGIN handling applied.

    `foreign_keys=False` is for migrations, where batch table rebuilds on SQLite
    would otherwise trip over references (Alembic's documented advice).
    """
    if not is_sqlite_url(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    path = sqlite_path(url)
    if path is not None and path.parent.is_dir():
        # sqlite3 would create it 0644 & ~umask; its -wal/-shm files copy this mode.
        # A missing directory is left for the first connect to report (503, not a crash).
        with contextlib.suppress(OSError):
            create_private_file(path)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if ":memory:" not in url and url not in ("sqlite://", "sqlite+pysqlite://"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@dataclass
class Database:
    """The engine of one app and its two session factories (read and write)."""

    url: str
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]

    @classmethod
    def create(cls, url: str, **engine_kwargs: Any) -> Database:
        engine = make_engine(url, **engine_kwargs)
        write_engine = (
            engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            if is_sqlite_url(url)
            else engine
        )
        return cls(
            url=url,
            engine=engine,
            read_sessions=sessionmaker(bind=engine, expire_on_commit=False),
            write_sessions=sessionmaker(bind=write_engine, expire_on_commit=False),
        )

    def new_session(self, *, write: bool = True) -> Session:
        """A standalone Session the caller closes (CLI, jobs, side transactions)."""
        return (self.write_sessions if write else self.read_sessions)()

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask, url: str) -> Database:
    """Attach a Database to `app` and close the request session on teardown."""
    database = Database.create(url)
    app.extensions[_EXTENSION] = database

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("_lianfang_session", None)
        if session is not None:
            try:
                session.close()
            except SQLAlchemyError:
                # The database went away after the answer was decided (a restart killed
                # the connection): closing rolls back, which then fails too. The answer
                # stands; the pool drops the dead connection.
                session.invalidate()

    return database


def get_db(app: Flask | None = None) -> Database:
    """The Database of `app` (default: the current app)."""
    target = app if app is not None else current_app
    return target.extensions[_EXTENSION]


def session() -> Session:
    """The Session of the current request (or app context), created on first use.

    Services commit it once at the end of their work; teardown closes it, which
    rolls back anything left uncommitted. Requests that change state get a write
    session (`BEGIN IMMEDIATE` on SQLite).
    """
    if not has_app_context():
        raise RuntimeError("hub.db.session() needs an app context")
    existing: Session | None = g.get("_lianfang_session")
    if existing is None:
        write = not (has_request_context() and request.method in _READ_METHODS)
        existing = get_db().new_session(write=write)
        g._lianfang_session = existing
    return existing


@contextmanager
def side_session(*, write: bool = True) -> Iterator[Session]:
    """A separate short transaction, committed on success (e.g. recording a nonce
    that must stick even when the request itself later fails)."""
    sess = get_db().new_session(write=write)
    try:
        yield sess
        sess.commit()
    except BaseException:
        sess.rollback()
        raise
    finally:
        sess.close()


def ping(database: Database) -> None:
    """Raise if the database does not answer `SELECT 1`."""
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Any:
    """The Alembic Config for `url`, independent of the working directory."""
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (Alembic, programmatically)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
