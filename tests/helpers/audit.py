"""Audit-chain test helpers: count what a verification reads (rows, SQL), never time it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from hub.db import get_db
from hub.models.audit import AuditEntry
from hub.services import audit


class AuditReads:
    """Counts audit rows materialised and SQL statements run (not time)."""

    def __init__(self, app: Flask) -> None:
        self.rows = 0
        self.statements = 0
        self.engine = get_db(app).engine

    def _row(self, *_: object) -> None:
        self.rows += 1

    def _sql(self, *_: object) -> None:
        self.statements += 1

    def __enter__(self) -> AuditReads:
        event.listen(AuditEntry, "load", self._row)
        event.listen(self.engine, "before_cursor_execute", self._sql)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(AuditEntry, "load", self._row)
        event.remove(self.engine, "before_cursor_execute", self._sql)


def append_entries(app: Flask, count: int, actor: str = "test") -> None:
    """`count` real audit entries through `audit.record`, committed together."""
    with app.app_context(), get_db(app).new_session() as session:
        for i in range(count):
            audit.record(session, actor, "test.event", f"subject-{i}", {"n": i})
        session.commit()
