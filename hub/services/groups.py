"""Complaint groups (docs/ARCHITECTURE.md §4, cases): indicators linked by members' cases.

Linking follows one rule (`group_links.apply_case`): a case extends the group it
touches, founds a group of its loose indicators, and joins two existing groups
only once cases of >= 2 distinct members claim the link; a case touching more
than `LIANFANG_CASE_MAX_GROUP_JOINS` groups links nothing. A new case is applied
incrementally (`SqlStore`: O(the case's own size)).

Corrections — a member retracts a case, a case expires, an admin removes an
indicator, splits or dismisses a group, a member is suspended or revoked (or
reinstated) — cannot be undone incrementally, so they *re-derive* the affected
region: every group the changed cases touch, closed over the live cases that
touch those groups, replayed in case order from nothing (`MemoryStore`) and
written back, old labels kept for the new groups they overlap most.

A group's feed record carries only its *corroborated* indicators — those that
live cases (active, of approved members) of >= 2 distinct members contain — and
the group is listed once it has one; its action is always `review`, never block.
Every change journals the groups it touched, so the next feed build publishes it.

Nothing a case or retraction answers depends on other members' data: the answer
is the member's own case id and state (docs/THREAT_MODEL.md, complaint-group abuse).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub.bulk_sql import chunked, lock_indicators
from hub.errors import ApiError
from hub.feeds import journal
from hub.feeds.journal import FeedOp
from hub.models.case import Case, CaseBridge, CaseIndicator, ComplaintGroup
from hub.models.indicator import Indicator
from hub.models.member import Member
from hub.services import audit
from hub.services.group_links import EXCLUDED_TAG, MemoryStore, SqlStore, apply_case
from hub.services.indicators import check_epoch, find_indicator, require_indicators
from schemas.enums import Feed, MemberState
from schemas.timefmt import format_time, utcnow

MIN_GROUP_MEMBERS = 2
REVIEW = "review"
ACTIVE, RETRACTED, EXPIRED, DISMISSED = "active", "retracted", "expired", "dismissed"
DEFAULT_MAX_JOINS = 3
DEFAULT_TTL_DAYS = 180
_FEED = Feed.COMPLAINT_GROUPS.value


def new_label() -> str:
    return "g-" + secrets.token_hex(8)


def _group_by_label(session: Session, label: str) -> ComplaintGroup | None:
    return session.scalars(select(ComplaintGroup).where(ComplaintGroup.label == label)).first()


def _counting_cases() -> Any:
    """Cases replayed when groups are re-derived: active, of a member approved now."""
    approved = select(Member.id).where(Member.state == MemberState.APPROVED.value)
    return select(Case.id).where(Case.state == ACTIVE, Case.member_id.in_(approved))


def _live_cases() -> Any:
    """Cases that corroborate: counting ones that linked (within the join limit)."""
    return _counting_cases().where(Case.linked.is_(True))


def _corroborated(group_id: int) -> Any:
    """Ids of the group's indicators that live cases of >= 2 distinct members contain.

    Only these are published: linking is by co-occurrence, so one member's case
    can attach any value to a group; a value only that member vouches for must
    not reach the feed on the strength of other members' cases.
    """
    return (
        select(CaseIndicator.indicator_id)
        .join(Case, Case.id == CaseIndicator.case_id)
        .join(Indicator, Indicator.id == CaseIndicator.indicator_id)
        .where(Indicator.group_id == group_id, Case.id.in_(_live_cases()))
        .group_by(CaseIndicator.indicator_id)
        .having(func.count(func.distinct(Case.member_id)) >= MIN_GROUP_MEMBERS)
    )


def _record_for(session: Session, group: ComplaintGroup) -> dict[str, Any] | None:
    """The feed record: the group's corroborated indicators, with the members,
    categories and times of the live cases that contain them; None when nothing is
    corroborated. Costs O(group size): run by the feed builder and admin views,
    never by a case."""
    indicators = sorted(
        session.execute(
            select(Indicator.kind, Indicator.value).where(
                Indicator.id.in_(_corroborated(group.id))
            )
        ).all()
    )
    if not indicators:
        return None
    cases = (
        select(Case.id)
        .join(CaseIndicator, CaseIndicator.case_id == Case.id)
        .where(
            CaseIndicator.indicator_id.in_(_corroborated(group.id)),
            Case.id.in_(_live_cases()),
        )
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


def _journal(session: Session, upserts: Iterable[str], removes: Iterable[str], now: datetime
             ) -> None:
    """Journal every touched group; the builder drops those whose record did not change."""
    removed = sorted(set(removes))
    changes = [journal.change(_FEED, label, FeedOp.REMOVE, now) for label in removed]
    changes += [
        journal.change(_FEED, label, FeedOp.UPSERT, now)
        for label in sorted(set(upserts) - set(removed))
    ]
    journal.write(session, changes)


def _tags(session: Session, ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in chunked(ids):
        out.update(
            session.execute(
                select(Indicator.id, Indicator.group_tag).where(Indicator.id.in_(list(chunk)))
            ).all()
        )
    return out


def submit_case(
    session: Session,
    member_id: str,
    data: dict[str, Any],
    *,
    ttl_days: int = DEFAULT_TTL_DAYS,
    max_joins: int = DEFAULT_MAX_JOINS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store a member's case and link it; answer `{"case_id", "state", "indicators"}`.

    The answer is the same whether the values are new to the hub, in a group, or
    in a listed group: nothing in it is other members' data. Re-sending a
    `case_ref` adds indicators to that case (and revives a retracted or expired
    one; a case an admin dismissed stays dismissed: 409 `case_dismissed`).
    """
    now = now or utcnow()
    _serialise_linking(session)
    check_epoch(session, data["key_epoch"])
    case = None
    if data.get("case_ref"):
        case = session.scalars(
            select(Case).where(Case.member_id == member_id, Case.case_ref == data["case_ref"])
        ).first()
    ttl = timedelta(days=ttl_days)
    revived = False
    if case is None:
        case = Case(
            member_id=member_id,
            case_ref=data.get("case_ref"),
            category=data["category"],
            key_epoch=data["key_epoch"],
            observed_at=data["observed_at"],
            created_at=now,
            expires_at=data["observed_at"] + ttl,
            state=ACTIVE,
        )
        session.add(case)
        session.flush()
    else:
        if case.state == DISMISSED:
            raise ApiError(
                409, "case_dismissed",
                f"an admin dismissed the group case {case.id} was linked into; "
                "report a new case with a new case_ref",
            )
        revived = case.state != ACTIVE
        case.state = ACTIVE
        case.observed_at = max(case.observed_at, data["observed_at"])
        case.expires_at = case.observed_at + ttl
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
    every = sorted(set(indicator_ids) | known)
    lock_indicators(session, every)
    new_rows = [
        {"case_id": case.id, "indicator_id": ident} for ident in indicator_ids if ident not in known
    ]
    if new_rows:
        session.execute(CaseIndicator.__table__.insert(), new_rows)
    member = session.get(Member, member_id)
    if member is not None and member.state == MemberState.APPROVED.value:
        store = SqlStore(session, now, new_label)
        tags = _tags(session, every)
        case.linked = apply_case(
            store, case.id, member_id, ((i, tags[i]) for i in every), max_joins
        )
        _journal(session, _labels(session, store.touched), store.gone.values(), now)
    audit.record(
        session,
        f"member:{member_id}",
        "cases.revive" if revived else "cases.submit",
        f"case:{case.id}",
        {"indicators": len(indicator_ids)},
    )
    return {"case_id": case.id, "state": ACTIVE, "indicators": len(every)}


def _labels(session: Session, gids: Iterable[int]) -> list[str]:
    ids = sorted(set(gids))
    if not ids:
        return []
    return list(session.scalars(select(ComplaintGroup.label).where(ComplaintGroup.id.in_(ids))))


# ------------------------------------------------------------------ corrections


def _case_indicators(session: Session, case_ids: list[int]) -> list[int]:
    out: set[int] = set()
    for chunk in chunked(case_ids):
        out.update(
            session.scalars(
                select(CaseIndicator.indicator_id).where(CaseIndicator.case_id.in_(list(chunk)))
            )
        )
    return sorted(out)


def _region(
    session: Session, seed_indicators: Iterable[int], seed_groups: Iterable[int]
) -> tuple[set[int], set[int], list[int]]:
    """(indicators, groups, live case ids) closed under "a live case touches it" and
    "it is in a group": replaying these cases cannot involve anything outside."""
    inds: set[int] = set()
    groups: set[int] = set()
    cases: set[int] = set()
    frontier = set(seed_indicators)
    pending = set(seed_groups)
    while frontier or pending:
        for chunk in chunked(sorted(pending - groups)):
            frontier.update(
                session.scalars(select(Indicator.id).where(Indicator.group_id.in_(list(chunk))))
            )
        groups |= pending
        pending = set()
        new = sorted(frontier - inds)
        frontier = set()
        inds.update(new)
        new_cases: set[int] = set()
        for chunk in chunked(new):
            pending.update(
                g for g in session.scalars(
                    select(Indicator.group_id).where(
                        Indicator.id.in_(list(chunk)), Indicator.group_id.is_not(None)
                    )
                ) if g not in groups
            )
            new_cases.update(
                session.scalars(
                    select(CaseIndicator.case_id).where(
                        CaseIndicator.indicator_id.in_(list(chunk)),
                        CaseIndicator.case_id.in_(_counting_cases()),
                    )
                )
            )
        new_cases -= cases
        cases |= new_cases
        frontier.update(set(_case_indicators(session, sorted(new_cases))) - inds)
        pending -= groups
    return inds, groups, sorted(cases)


def rederive(
    session: Session,
    seed_indicators: Iterable[int],
    now: datetime,
    *,
    seed_groups: Iterable[int] = (),
    max_joins: int = DEFAULT_MAX_JOINS,
) -> dict[str, list[str]]:
    """Rebuild the groups around these indicators from their live cases; journal it.

    Costs O(the region), which a correction may pay; a case never does. Returns
    the labels that now name groups there (`groups`) and those that went (`removed`).
    """
    _serialise_linking(session)
    inds, old_groups, case_ids = _region(session, seed_indicators, seed_groups)
    old = {
        g.id: g for g in session.scalars(
            select(ComplaintGroup).where(ComplaintGroup.id.in_(sorted(old_groups)))
        )
    } if old_groups else {}
    old_members: dict[int, set[int]] = {gid: set() for gid in old}
    for chunk in chunked(sorted(inds)):
        for ident, gid in session.execute(
            select(Indicator.id, Indicator.group_id).where(Indicator.id.in_(list(chunk)))
        ).all():
            if gid in old_members:
                old_members[gid].add(ident)
    tags = _tags(session, sorted(inds))
    memory = MemoryStore()
    by_case: dict[int, list[int]] = {c: [] for c in case_ids}
    for chunk in chunked(case_ids):
        for cid, ident in session.execute(
            select(CaseIndicator.case_id, CaseIndicator.indicator_id).where(
                CaseIndicator.case_id.in_(list(chunk))
            )
        ).all():
            by_case[cid].append(ident)
    owners = dict(
        session.execute(select(Case.id, Case.member_id).where(Case.id.in_(case_ids))).all()
    ) if case_ids else {}
    linked = {
        cid: apply_case(memory, cid, owners[cid], ((i, tags[i]) for i in by_case[cid]), max_joins)
        for cid in case_ids
    }
    for flag in (True, False):
        ids = [cid for cid, value in linked.items() if value is flag]
        for chunk in chunked(ids):
            session.execute(
                update(Case).where(Case.id.in_(list(chunk))).values(linked=flag),
                execution_options={"synchronize_session": False},
            )

    # Old labels go to the new groups they overlap most (largest overlaps first).
    overlaps = sorted(
        (
            (-len(members & old_members[gid]), -len(members), gid, tmp)
            for tmp, members in memory.members.items()
            for gid in old
            if members & old_members[gid]
        )
    )
    real: dict[int, int] = {}
    kept: set[int] = set()
    for _, _, gid, tmp in overlaps:
        if tmp not in real and gid not in kept:
            real[tmp] = gid
            kept.add(gid)
    opts = {"synchronize_session": False}
    session.execute(
        delete(CaseBridge).where(
            or_(
                CaseBridge.group_a.in_(sorted(old)), CaseBridge.group_b.in_(sorted(old)),
                CaseBridge.case_id.in_(case_ids),
            )
        ),
        execution_options=opts,
    )
    for chunk in chunked(sorted(inds)):
        session.execute(
            update(Indicator).where(Indicator.id.in_(list(chunk))).values(group_id=None),
            execution_options=opts,
        )
    removed = [old[gid].label for gid in old if gid not in kept]
    for gid in old:
        if gid not in kept:
            session.delete(old[gid])
    labels: list[str] = []
    for tmp, members in memory.members.items():
        if tmp in real:
            group = old[real[tmp]]
            group.size = len(members)
            group.updated_at = now
        else:
            group = ComplaintGroup(
                label=new_label(), size=len(members), created_at=now, updated_at=now
            )
            session.add(group)
        session.flush()
        real[tmp] = group.id
        labels.append(group.label)
        for chunk in chunked(sorted(members)):
            session.execute(
                update(Indicator).where(Indicator.id.in_(list(chunk))).values(group_id=group.id),
                execution_options=opts,
            )
    claims = [
        {"case_id": c[0], "member_id": c[1], "group_a": real[c[2]], "group_b": real[c[3]]}
        for c in memory.claims
        if isinstance(c[2], int) and isinstance(c[3], int)
    ]
    if claims:
        session.execute(CaseBridge.__table__.insert(), claims)
    session.flush()
    _journal(session, labels, removed, now)
    return {"groups": sorted(labels), "removed": sorted(removed)}


def retract_case(
    session: Session, member_id: str, case_id: int, *, max_joins: int = DEFAULT_MAX_JOINS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The member withdraws its own case; the groups it touched are re-derived.

    Another member's case id answers exactly like an unknown one (404)."""
    now = now or utcnow()
    case = session.get(Case, case_id) if 0 < case_id < 2**63 else None
    if case is None or case.member_id != member_id:
        raise ApiError(404, "not_found", f"you have no case {case_id}")
    if case.state == ACTIVE:
        case.state = RETRACTED
        session.flush()
        rederive(session, _case_indicators(session, [case.id]), now, max_joins=max_joins)
        audit.record(session, f"member:{member_id}", "cases.retract", f"case:{case.id}", {})
    return {"case_id": case.id, "state": case.state}


def expire_due(session: Session, now: datetime, max_joins: int = DEFAULT_MAX_JOINS) -> int:
    """Cases past `expires_at` stop counting (run before each feed build)."""
    due = list(
        session.scalars(select(Case.id).where(Case.state == ACTIVE, Case.expires_at <= now))
    )
    if not due:
        return 0
    for chunk in chunked(due):
        session.execute(
            update(Case).where(Case.id.in_(list(chunk))).values(state=EXPIRED),
            execution_options={"synchronize_session": False},
        )
    rederive(session, _case_indicators(session, due), now, max_joins=max_joins)
    audit.record(session, "system", "cases.expire", "cases", {"cases": len(due)})
    return len(due)


def member_changed(
    session: Session, member_id: str, now: datetime, max_joins: int = DEFAULT_MAX_JOINS
) -> None:
    """A member left or re-entered `approved`: its cases stop (or start) corroborating."""
    cases = list(
        session.scalars(select(Case.id).where(Case.member_id == member_id, Case.state == ACTIVE))
    )
    if cases:
        rederive(session, _case_indicators(session, cases), now, max_joins=max_joins)


def purge_closed(session: Session, cutoff: datetime) -> int:
    """Delete cases that stopped counting and expired before `cutoff` (retention)."""
    ids = list(
        session.scalars(select(Case.id).where(Case.state != ACTIVE, Case.expires_at < cutoff))
    )
    for chunk in chunked(ids):
        part = list(chunk)
        session.execute(delete(CaseBridge).where(CaseBridge.case_id.in_(part)))
        session.execute(delete(CaseIndicator).where(CaseIndicator.case_id.in_(part)))
        session.execute(delete(Case).where(Case.id.in_(part)))
    return len(ids)


# ------------------------------------------------------------------- admin


def _admin_group(session: Session, label: str) -> ComplaintGroup:
    group = _group_by_label(session, label) if len(label) <= 24 else None
    if group is None:
        raise ApiError(404, "not_found", f"no complaint group {label}")
    return group


def _group_indicator(
    session: Session, group: ComplaintGroup, kind: str, value: str, field: str
) -> Indicator:
    indicator = find_indicator(session, kind, value)
    if indicator is None or indicator.group_id != group.id:
        raise ApiError(
            422, "validation_error", f"invalid input: {field}",
            {field: [f"not an indicator of group {group.label}"]},
        )
    return indicator


def remove_indicator(
    session: Session, label: str, kind: str, value: str, reason: str, *, actor: str,
    max_joins: int = DEFAULT_MAX_JOINS, now: datetime | None = None,
) -> dict[str, Any]:
    """An admin takes one indicator out of complaint groups for good (cases keep it,
    but it links nothing); the group is re-derived (it may fall apart)."""
    now = now or utcnow()
    group = _admin_group(session, label)
    indicator = _group_indicator(session, group, kind, value, "value")
    indicator.group_tag = EXCLUDED_TAG
    session.flush()
    out = rederive(session, [indicator.id], now, seed_groups=[group.id], max_joins=max_joins)
    audit.record(session, actor, "groups.remove_indicator", f"group:{label}",
                 {"reason": reason, "indicator_id": indicator.id, **out})
    return {"group_id": label, **out}


def split_group(
    session: Session, label: str, refs: list[dict[str, str]], reason: str, *, actor: str,
    max_joins: int = DEFAULT_MAX_JOINS, now: datetime | None = None,
) -> dict[str, Any]:
    """An admin separates these indicators from the rest of their group for good:
    they get a new split side (`group_tag`), and cases link only within one side."""
    now = now or utcnow()
    group = _admin_group(session, label)
    chosen = [_group_indicator(session, group, r["kind"], r["value"], "indicators")
              for r in refs]
    if len({i.id for i in chosen}) >= group.size:
        raise ApiError(
            422, "validation_error", "invalid input: indicators",
            {"indicators": ["a split must leave at least one indicator on the other side"]},
        )
    tag = int(session.scalar(select(func.max(Indicator.group_tag))) or 0) + 1
    for indicator in chosen:
        indicator.group_tag = tag
    session.flush()
    out = rederive(
        session, [i.id for i in chosen], now, seed_groups=[group.id], max_joins=max_joins
    )
    audit.record(session, actor, "groups.split", f"group:{label}",
                 {"reason": reason, "indicators": len(chosen), **out})
    return {"group_id": label, **out}


def dismiss_group(
    session: Session, label: str, reason: str, *, actor: str,
    max_joins: int = DEFAULT_MAX_JOINS, now: datetime | None = None,
) -> dict[str, Any]:
    """An admin finds a group is no ring: the live cases that built it are dismissed
    (they stop linking and corroborating) and the region is re-derived."""
    now = now or utcnow()
    group = _admin_group(session, label)
    members = select(Indicator.id).where(Indicator.group_id == group.id)
    cases = sorted(set(session.scalars(
        select(CaseIndicator.case_id).where(
            CaseIndicator.indicator_id.in_(members), CaseIndicator.case_id.in_(_live_cases())
        )
    )))
    seeds = _case_indicators(session, cases)
    for chunk in chunked(cases):
        session.execute(
            update(Case).where(Case.id.in_(list(chunk))).values(state=DISMISSED),
            execution_options={"synchronize_session": False},
        )
    out = rederive(session, seeds, now, seed_groups=[group.id], max_joins=max_joins)
    audit.record(session, actor, "groups.dismiss", f"group:{label}",
                 {"reason": reason, "cases": len(cases), **out})
    return {"group_id": label, "cases_dismissed": len(cases), **out}


# ------------------------------------------------------------------- views


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
            .where(Indicator.group_id == group.id, Case.id.in_(_live_cases()))
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
