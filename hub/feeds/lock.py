"""One feed builder at a time, across threads, processes and hosts: a DB lease.

Why a lease row and not `SELECT ... FOR UPDATE` or an advisory lock: it works the
same on SQLite and PostgreSQL, survives a crashed holder (the lease expires),
and is taken with one atomic conditional UPDATE, so of two racing builders
exactly one sees `rowcount == 1`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.models.feed import BuildLease

FEED_LEASE = "feeds"
DEFAULT_TTL = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_holder() -> str:
    """A holder id unique to this build attempt (host, pid, thread, random)."""
    host = socket.gethostname()[:60]
    return f"{host}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:12]}"


def acquire(
    sessions: sessionmaker[Session], holder: str, now: datetime,
    ttl: timedelta = DEFAULT_TTL, name: str = FEED_LEASE,
) -> bool:
    """Take (or renew) the lease for `ttl`; False when someone else holds a live one."""
    with sessions() as session:
        result = session.execute(
            update(BuildLease)
            .where(BuildLease.name == name)
            .where(or_(BuildLease.expires_at < now, BuildLease.holder == holder))
            .values(holder=holder, expires_at=now + ttl)
        )
        if result.rowcount == 1:
            session.commit()
            return True
        if session.get(BuildLease, name) is not None:
            session.rollback()
            return False
        session.add(BuildLease(name=name, holder=holder, expires_at=now + ttl))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True


def release(sessions: sessionmaker[Session], holder: str, name: str = FEED_LEASE) -> None:
    """Give the lease back early (only if we still hold it)."""
    with sessions() as session:
        session.execute(
            update(BuildLease)
            .where(BuildLease.name == name, BuildLease.holder == holder)
            .values(holder="", expires_at=_EPOCH)
        )
        session.commit()
