"""Alembic environment: runs migrations online against `sqlalchemy.url` (or `-x url=`)."""

from __future__ import annotations

import os

from alembic import context

import hub.models  # noqa: F401  (registers every table on Base.metadata)
from hub.db import make_engine
from hub.models.base import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or config.get_main_option("sqlalchemy.url") or os.environ["LIANFANG_DATABASE_URL"]


def run_migrations_online() -> None:
    url = _url()
    engine = make_engine(url, foreign_keys=False)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
