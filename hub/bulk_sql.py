"""Bulk SQL helpers shared by the services and the feed journal.

Every bulk path works in chunks (`IN` lists under every backend's limits) and
writes with one compiled `executemany`, never one round trip per row. It sits
below `hub.services` and `hub.feeds.journal` and imports only models.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models.indicator import Indicator

CHUNK = 2000
_T = TypeVar("_T")


def chunked(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    """Slices of at most `size`: keeps `IN (...)` lists under every backend's limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_write(session: Session, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """`executemany` of a Core INSERT/UPDATE over `rows` (all with the keys of `rows[0]`).

    Same statement and the same column types' bind processors as
    `session.execute(stmt, rows)`, but compiled once and handed to the driver as
    plain parameter tuples: SQLAlchemy's executemany path re-builds a parameter
    dict per row through every processor, which cost more than the database's
    own work for a 10,000-report batch. Autoflush does not run (Core statement).
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = stmt.compile(dialect=dialect, column_keys=keys, for_executemany=True)
    positional = compiled.positiontup
    names = list(positional) if positional is not None else list(compiled.binds)
    processors = []
    for name in names:
        bind_type = compiled.binds[name].type
        processors.append(bind_type.dialect_impl(dialect).bind_processor(dialect))
    columns: list[Any] = []
    for name, process in zip(names, processors, strict=True):
        column = [row[name] for row in rows]
        columns.append(column if process is None else _processed(process, column))
    params: list[Any] = list(zip(*columns, strict=True))  # column-wise: C loops, not per cell
    if positional is None:
        params = [dict(zip(names, values, strict=True)) for values in params]
    sql = str(compiled)
    for chunk in chunked(params, 5000):
        connection.exec_driver_sql(sql, list(chunk))


def _processed(process: Any, column: list[Any]) -> list[Any]:
    """`process` over `column`, once per distinct value: a batch's timestamps repeat
    (one `now`, expiries `last_seen + lifetime`) and formatting one costs µs."""
    try:
        memo = {value: process(value) for value in set(column)}
    except TypeError:  # an unhashable value: no memo
        return list(map(process, column))
    return [memo[value] for value in column]


def lock_indicators(session: Session, ids: Sequence[int]) -> None:
    """Row-lock these indicators (ascending id, so lockers never deadlock each other).

    On PostgreSQL two transactions that report the same indicator at once would
    otherwise each merge without the other's uncommitted report and the later
    commit would overwrite the listing (a lost update, and a wrong journal). With
    the lock the second merge starts after the first commits and sees both.
    SQLite already serialises writers (`BEGIN IMMEDIATE`); there this is a no-op.
    `FOR NO KEY UPDATE`, not `FOR UPDATE`: inserting a report takes `FOR KEY SHARE`
    on its indicator (the foreign key), and `FOR UPDATE` against that deadlocks.
    """
    if ids and session.get_bind().dialect.name != "sqlite":
        session.execute(
            select(Indicator.id)
            .where(Indicator.id.in_(list(ids)))
            .order_by(Indicator.id)
            .with_for_update(key_share=True)
        ).all()
