"""The indicator registry: one row per (kind, value), tied to the epoch it was hashed under.

Every path that names an indicator (reports, the allowlist, complaint groups)
goes through here: `check_epoch` refuses a retired or unknown key epoch,
`ensure_indicators` inserts missing rows in bulk (race-safe) and refuses a phone
value whose feed key another value holds, `find_indicator` looks one up.
Sits just above the consortium-key keystore.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.bulk_sql import chunked
from hub.errors import ApiError
from hub.models.indicator import Indicator
from hub.services.consortium_keys import epoch_states
from schemas.enums import USABLE_EPOCH_STATES, IndicatorKind


def epoch_error(states: Mapping[int, str], epoch: int) -> str | None:
    """Why `epoch` cannot be used for a new report, or None when it can."""
    state = states.get(epoch)
    if state is None:
        return "Unknown key epoch; fetch the consortium key again."
    if state not in USABLE_EPOCH_STATES:
        return "This key epoch is retired; re-hash with the current consortium key."
    return None


def check_epoch(session: Session, epoch: int) -> None:
    """422 on `key_epoch` unless the epoch is current or retiring."""
    problem = epoch_error(epoch_states(session), epoch)
    if problem:
        raise ApiError(
            422, "validation_error", "invalid input: key_epoch", {"key_epoch": [problem]}
        )


FEED_KEY_COLLISION = (
    "Another phone value with the same first 16 hex digits (the feed key) is already "
    "known; an honest HMAC collides with odds of about 5e-13, so this value is refused."
)


def feed_key_of(kind: str, value: str) -> str | None:
    """The phone feeds' 64-bit key of a phone value (its first 16 hex), else None."""
    return value[:16] if kind == IndicatorKind.PHONE.value else None


def ensure_indicators(
    session: Session, items: Iterable[tuple[str, str, int]]
) -> dict[tuple[str, str], int]:
    """Ids of the (kind, value) indicators, inserting missing ones; `(kind, value, epoch)` in.

    A phone value whose feed key already belongs to a different value is *absent*
    from the answer (the callers refuse it, `FEED_KEY_COLLISION`): the feed key is
    the phone indicator's identity, so no value can ride on another's feed entry.
    `ON CONFLICT DO NOTHING` (on either unique key) makes concurrent batches that
    see the same new indicator both succeed, and a concurrent collider lose.
    """
    wanted: dict[tuple[str, str], int] = {}
    for kind, value, epoch in items:
        wanted.setdefault((kind, value), epoch)
    keys = list(wanted)
    found = load_indicator_ids(session, keys)
    missing = [k for k in keys if k not in found]
    missing = _without_collisions(session, missing)
    if missing:
        rows = [
            {"kind": k, "value": v, "key_epoch": wanted[(k, v)], "feed_key": feed_key_of(k, v)}
            for k, v in missing
        ]
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        table = Indicator.__table__
        stmt = (
            dialect_insert(table)
            .on_conflict_do_nothing()
            .returning(table.c.kind, table.c.value, table.c.id)
        )
        connection = session.connection()
        for chunk in chunked(rows):
            found.update(
                {(kind, value): ident for kind, value, ident in connection.execute(stmt, chunk)}
            )
        # A row another batch inserted first returns nothing here: look those up
        # (still absent afterwards = a concurrent value took the feed key).
        raced = [k for k in missing if k not in found]
        if raced:
            found.update(load_indicator_ids(session, raced))
    return found


def _without_collisions(
    session: Session, missing: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`missing` minus phone values whose feed key is taken (stored, or earlier in `missing`)."""
    phone = IndicatorKind.PHONE.value
    prefixes = sorted({v[:16] for k, v in missing if k == phone})
    # feed key -> the value holding it. A value that a concurrent batch stored between
    # our lookup and this one holds its own key: that is a race, not a collision.
    holders: dict[str, str] = {}
    table = Indicator.__table__
    connection = session.connection()
    for chunk in chunked(prefixes):
        query = select(table.c.feed_key, table.c.value).where(table.c.feed_key.in_(list(chunk)))
        holders.update((key, value) for key, value in connection.execute(query))
    kept = []
    for kind, value in missing:
        key = feed_key_of(kind, value)
        if key is not None and holders.setdefault(key, value) != value:
            continue
        kept.append((kind, value))
    return kept


def require_indicators(
    session: Session, items: Iterable[tuple[str, str, int]], field: str
) -> dict[tuple[str, str], int]:
    """`ensure_indicators` for calls that name one or a few values: a feed-key collision
    is a 422 on `field` (batches of reports refuse per item instead)."""
    items = list(items)
    found = ensure_indicators(session, items)
    if any((kind, value) not in found for kind, value, _ in items):
        raise ApiError(
            422, "validation_error", f"invalid input: {field}", {field: [FEED_KEY_COLLISION]}
        )
    return found


def load_indicator_ids(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Ids of existing indicators, one `kind = ? AND value IN (...)` query per kind and chunk.

    Core columns on the session's connection, not ORM attributes: for 10,000 keys
    the ORM row loading and a row-value `IN` cost several times the query itself.
    """
    table = Indicator.__table__
    by_kind: dict[str, list[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, []).append(value)
    found: dict[tuple[str, str], int] = {}
    connection = session.connection()
    for kind, values in by_kind.items():
        for chunk in chunked(values):
            rows = connection.execute(
                select(table.c.value, table.c.id).where(
                    table.c.kind == kind, table.c.value.in_(list(chunk))
                )
            )
            found.update({(kind, value): ident for value, ident in rows})
    return found


def find_indicator(session: Session, kind: str, value: str) -> Indicator | None:
    return session.scalars(
        select(Indicator).where(Indicator.kind == kind, Indicator.value == value)
    ).first()
