"""The declarative Base every model shares, and the UTC timestamp column type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on PostgreSQL (timestamptz) and SQLite (text).

    SQLite has no time zone type, so values are stored as naive UTC and given
    `tzinfo=UTC` again on the way out; Python code only ever sees aware datetimes.
    A naive datetime handed in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one step from an aware datetime to the stored text.

        Same text as SQLAlchemy's SQLite DATETIME (`YYYY-MM-DD HH:MM:SS.ffffff`, so
        string comparisons in SQL keep working), but without the generic
        replace + astimezone + `%`-dict formatting chain: ingest binds four
        timestamps for each of up to 10,000 reports per batch, and the same `now`
        object for many rows (remembered by identity, one entry).
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        general = self.process_bind_param
        last: tuple[Any, str | None] = (None, None)  # (datetime, text), swapped whole

        def process(value: Any) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen = last
            if value is seen[0]:
                return seen[1]
            if value.tzinfo is UTC:
                text = value.isoformat(" ", "microseconds")[:-6]  # drop "+00:00"
            else:
                text = general(value, dialect).isoformat(" ", "microseconds")  # type: ignore[union-attr]
            last = (value, text)
            return text

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text straight to an aware datetime (`fromisoformat`),
        instead of SQLAlchemy's parse followed by `process_result_value`: a re-merge
        reads three timestamps for every report of every touched indicator."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        general = super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                return parse(value + "+00:00")  # ~6x cheaper than parse + .replace(tzinfo=)
            except (TypeError, ValueError):  # not the text this type writes: the general path
                return general(value) if general else value  # type: ignore[no-any-return]

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
