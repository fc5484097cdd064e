"""Complaint groups (docs/ARCHITECTURE.md §4, cases): connected components of linked indicators.

A case links its indicators. Components are kept incrementally as a persisted
union-find: every indicator carries its component in `Indicator.group_id`;
linking components relabels the smaller into the larger (so an indicator moves
O(log n) times over its life). A group's feed record carries only its
*corroborated* indicators — those that cases of at least 2 distinct members
contain — and the group is listed once it has one; its action is always
`review`, never block. (Linking alone would let one member pull any value into
a listed group by putting it in a case next to one of the group's indicators.)
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hub.bulk_sql import chunked, lock_indicators
from hub.errors import ApiError
from hub.feeds import journal
from hub.feeds.journal import FeedOp
from hub.models.case import Case, CaseIndicator, ComplaintGroup
from hub.models.indicator import Indicator
from hub.services import audit
from hub.services.indicators import check_epoch, require_indicators
from schemas.enums import Feed
from schemas.timefmt import format_time, utcnow

MIN_GROUP_MEMBERS = 2
REVIEW = "review"


def new_label() -> str:
    return "g-" + secrets.token_hex(8)


def _group_by_label(session: Session, label: str) -> ComplaintGroup | None:
    return session.scalars(select(ComplaintGroup).where(ComplaintGroup.label == label)).first()


def _corroborated(group: ComplaintGroup) -> Any:
    """Ids of the group's indicators that cases of >= 2 distinct members contain.

    Only these are published: linking is by co-occurrence, so one member's case
    can attach any value to a listed group; a value only that member vouches for
    must not reach the feed on the strength of other members' cases.
    """
    return (
        select(CaseIndicator.indicator_id)
        .join(Case, Case.id == CaseIndicator.case_id)
        .join(Indicator, Indicator.id == CaseIndicator.indicator_id)
        .where(Indicator.group_id == group.id)
        .group_by(CaseIndicator.indicator_id)
        .having(func.count(func.distinct(Case.member_id)) >= MIN_GROUP_MEMBERS)
    )


def _record_for(session: Session, group: ComplaintGroup) -> dict[str, Any] | None:
    """The feed record: the group's corroborated indicators (see `_corroborated`), with
    the members, categories and times of the cases that contain them; None when the
    group has no corroborated indicator (so fewer than 2 members vouch for anything)."""
    corroborated = _corroborated(group)
    indicators = sorted(
        session.execute(
            select(Indicator.kind, Indicator.value).where(Indicator.id.in_(corroborated))
        ).all()
    )
    if not indicators:
        return None
    cases = (
        select(Case.id)
        .join(CaseIndicator, CaseIndicator.case_id == Case.id)
        .where(CaseIndicator.indicator_id.in_(_corroborated(group)))
    )
    member_count, first_seen, last_seen = session.execute(
        select(
            func.count(func.distinct(Case.member_id)),
            func.min(Case.observed_at),
            func.max(Case.observed_at),
        ).where(Case.id.in_(cases))
    ).one()
    categories = sorted(
        set(session.scalars(select(Case.category).where(Case.id.in_(cases)).distinct()))
    )
    return {
        "group_id": group.label,
        "action": REVIEW,
        "member_count": int(member_count),
        "categories": categories,
        "first_seen": format_time(first_seen),
        "last_seen": format_time(last_seen),
        "indicators": [{"kind": kind, "value": value} for kind, value in indicators],
    }


def group_record(session: Session, group_id: str) -> dict[str, Any] | None:
    """The complaint-groups feed record (docs/FORMATS.md) of `g-…`, or None when not listable."""
    group = _group_by_label(session, group_id)
    return None if group is None else _record_for(session, group)


def records_before(
    session: Session, indicator_ids: list[int]
) -> dict[str, dict[str, Any] | None]:
    """Feed records of the groups these indicators are in, taken before a change."""
    return {g.label: _record_for(session, g) for g in _groups_of(session, indicator_ids)[1]}


def _groups_of(
    session: Session, indicator_ids: list[int]
) -> tuple[list[Any], list[ComplaintGroup]]:
    rows: list[Any] = []
    for chunk in chunked(indicator_ids):
        rows.extend(
            session.execute(
                select(Indicator.id, Indicator.group_id).where(Indicator.id.in_(list(chunk)))
            ).all()
        )
    group_ids = sorted({gid for _, gid in rows if gid is not None})
    groups = (
        list(session.scalars(select(ComplaintGroup).where(ComplaintGroup.id.in_(group_ids))))
        if group_ids
        else []
    )
    return rows, groups


def link(
    session: Session,
    indicator_ids: list[int],
    now: datetime,
    before: dict[str, dict[str, Any] | None],
) -> ComplaintGroup:
    """Union the components of these indicators into one; journal feed changes.

    The largest existing component survives (smaller ones are relabelled into
    it and deleted); indicators without a component join it. `before` holds the
    groups' feed records from before the case was stored (`records_before`), so
    the journal says exactly what changed.
    """
    rows, groups = _groups_of(session, indicator_ids)
    if groups:
        target = max(groups, key=lambda g: (g.size, -g.id))
    else:
        target = ComplaintGroup(label=new_label(), size=0, created_at=now, updated_at=now)
        session.add(target)
        session.flush()
    absorbed = [g for g in groups if g.id != target.id]
    if absorbed:
        session.execute(
            update(Indicator)
            .where(Indicator.group_id.in_([g.id for g in absorbed]))
            .values(group_id=target.id),
            execution_options={"synchronize_session": False},
        )
        for group in absorbed:
            session.delete(group)
    loose = [ident for ident, gid in rows if gid is None]
    for chunk in chunked(loose):
        session.execute(
            update(Indicator).where(Indicator.id.in_(list(chunk))).values(group_id=target.id),
            execution_options={"synchronize_session": False},
        )
    session.flush()
    target.size = session.scalar(
        select(func.count()).select_from(Indicator).where(Indicator.group_id == target.id)
    )
    target.updated_at = now
    session.flush()

    changes: list[dict[str, Any]] = []
    feed = Feed.COMPLAINT_GROUPS.value
    for group in absorbed:
        if before.get(group.label) is not None:
            changes.append(journal.change(feed, group.label, FeedOp.REMOVE, now))
    after = _record_for(session, target)
    if after != before.get(target.label):
        op = FeedOp.UPSERT if after is not None else FeedOp.REMOVE
        if after is not None or before.get(target.label) is not None:
            changes.append(journal.change(feed, target.label, op, now))
    journal.write(session, changes)
    return target


_LINK_LOCK_ID = 0x4C46_4752  # "LFGR": the complaint-group linker's advisory lock


def _serialise_linking(session: Session) -> None:
    """One case linker at a time on PostgreSQL (SQLite serialises writers anyway).

    Relabelling a component (`UPDATE … WHERE group_id = smaller`) cannot see
    indicators a concurrent case is adding to that component, which would strand
    them when the smaller group is deleted. Cases are rare next to reports, so
    a transaction-scoped advisory lock is the simple, correct choice.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_LINK_LOCK_ID)))


def submit_case(
    session: Session, member_id: str, data: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """Store a member's case, link its indicators, answer `{"case_id", "group_id", "listed"}`.

    Re-sending the same `case_ref` adds indicators to that case (it never splits groups).
    """
    now = now or utcnow()
    _serialise_linking(session)
    check_epoch(session, data["key_epoch"])
    case = None
    if data.get("case_ref"):
        case = session.scalars(
            select(Case).where(Case.member_id == member_id, Case.case_ref == data["case_ref"])
        ).first()
    if case is None:
        case = Case(
            member_id=member_id,
            case_ref=data.get("case_ref"),
            category=data["category"],
            key_epoch=data["key_epoch"],
            observed_at=data["observed_at"],
            created_at=now,
        )
        session.add(case)
        session.flush()
    else:
        case.observed_at = max(case.observed_at, data["observed_at"])
    ids = require_indicators(
        session, ((i["kind"], i["value"], data["key_epoch"]) for i in data["indicators"]),
        "indicators",
    )
    indicator_ids = sorted(set(ids.values()))
    if len(indicator_ids) < 2:
        raise ApiError(
            422,
            "validation_error",
            "invalid input: indicators",
            {"indicators": ["A case needs at least 2 distinct indicators."]},
        )
    known = set(
        session.scalars(
            select(CaseIndicator.indicator_id).where(CaseIndicator.case_id == case.id)
        )
    )
    lock_indicators(session, sorted(set(indicator_ids) | known))
    before = records_before(session, indicator_ids)
    new_rows = [
        {"case_id": case.id, "indicator_id": ident} for ident in indicator_ids if ident not in known
    ]
    if new_rows:
        session.execute(CaseIndicator.__table__.insert(), new_rows)
    group = link(session, indicator_ids + sorted(known), now, before)
    listed = _record_for(session, group) is not None
    audit.record(
        session,
        f"member:{member_id}",
        "cases.submit",
        f"case:{case.id}",
        {"indicators": len(indicator_ids), "group": group.label, "listed": listed},
    )
    return {"case_id": case.id, "group_id": group.label, "listed": listed}


def list_groups(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Groups for the admin view, largest first, with member counts (never member ids)."""
    groups = session.scalars(
        select(ComplaintGroup)
        .order_by(ComplaintGroup.size.desc(), ComplaintGroup.id)
        .limit(limit)
        .offset(offset)
    ).all()
    out = []
    for group in groups:
        record = _record_for(session, group)
        members = session.scalar(
            select(func.count(func.distinct(Case.member_id)))
            .select_from(Case)
            .join(CaseIndicator, CaseIndicator.case_id == Case.id)
            .join(Indicator, Indicator.id == CaseIndicator.indicator_id)
            .where(Indicator.group_id == group.id)
        )
        out.append(
            {
                "group_id": group.label,
                "size": group.size,
                "member_count": int(members or 0),
                "listed": record is not None,
                "created_at": format_time(group.created_at),
                "updated_at": format_time(group.updated_at),
            }
        )
    return out


def delete_empty_groups(session: Session) -> int:
    """Drop groups no indicator points at any more (housekeeping; never listed)."""
    used = select(Indicator.group_id).where(Indicator.group_id.is_not(None))
    result = session.execute(delete(ComplaintGroup).where(ComplaintGroup.id.not_in(used)))
    return int(result.rowcount or 0)
