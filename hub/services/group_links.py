"""How one case links complaint groups: the rule, once, over two stores.

The rule (docs/THREAT_MODEL.md, complaint-group abuse), per case and per split
side (`Indicator.group_tag`; -1 = removed from groups by an admin):

- indicators in no group, with none of the case's indicators in a group, form a
  new group (when there are at least 2);
- touching exactly one existing group, the case's loose indicators join it;
- touching more than `max_joins` existing groups (over all sides), the case links
  nothing and corroborates nothing (`Case.linked` is false);
- touching 2..`max_joins` groups, its loose indicators join the largest, and the
  case records a *claim* per pair of touched groups; two groups merge only once
  claims of at least 2 distinct members link them (a merge re-checks the absorbed
  group's pending claims, so corroboration that only exists after a merge is seen).

So one member's case can never join groups on its own word, and a case costs
O(its own size): the store answers per case indicator or per touched group, never
per group member. `SqlStore` applies it incrementally in the database;
`MemoryStore` replays cases when groups are re-derived after a correction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import combinations
from typing import Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub.bulk_sql import chunked
from hub.models.case import CaseBridge, ComplaintGroup

EXCLUDED_TAG = -1
MIN_BRIDGE_MEMBERS = 2


class LinkStore(Protocol):
    """What `apply_case` needs to read and change (group ids are the store's own)."""

    def groups_of(self, ids: list[int]) -> dict[int, int | None]: ...
    def sizes(self, gids: list[int]) -> dict[int, int]: ...
    def new_group(self, ids: list[int]) -> int: ...
    def join(self, gid: int, ids: list[int]) -> None: ...
    def add_claims(self, case_id: int, member: str, pairs: list[tuple[int, int]]) -> None: ...
    def claimants(self, a: int, b: int) -> int: ...
    def union(self, keep: int, gone: int) -> set[int]: ...


def apply_case(
    store: LinkStore,
    case_id: int,
    member: str,
    tagged: Iterable[tuple[int, int]],
    max_joins: int,
) -> bool:
    """Link one case's `(indicator id, group tag)` pairs under the rule above; False
    when the case touches too many groups and so links (and corroborates) nothing."""
    sides: dict[int, list[int]] = defaultdict(list)
    for ident, tag in tagged:
        if tag != EXCLUDED_TAG:
            sides[tag].append(ident)
    current = store.groups_of(sorted({i for part in sides.values() for i in part}))
    if len({g for g in current.values() if g is not None}) > max_joins:
        return False
    for tag in sorted(sides):
        part = sorted(set(sides[tag]))
        touched = sorted({g for i in part if (g := current.get(i)) is not None})
        loose = [i for i in part if current.get(i) is None]
        if not touched:
            if len(loose) >= 2:
                store.new_group(loose)
            continue
        sizes = store.sizes(touched)
        home = max(touched, key=lambda g: (sizes[g], -g))
        if loose:
            store.join(home, loose)
        if len(touched) > 1:
            pairs = list(combinations(touched, 2))
            store.add_claims(case_id, member, pairs)
            _merge_corroborated(store, pairs)
    return True  # sides never share a group, so `current` stays right for the next side


def _merge_corroborated(store: LinkStore, pairs: list[tuple[int, int]]) -> None:
    merged: dict[int, int] = {}

    def find(g: int) -> int:
        while g in merged:
            g = merged[g]
        return g

    work = list(pairs)
    while work:
        a, b = (find(g) for g in work.pop())
        if a == b or store.claimants(a, b) < MIN_BRIDGE_MEMBERS:
            continue
        sizes = store.sizes([a, b])
        keep, gone = sorted((a, b), key=lambda g: (-sizes[g], g))
        merged[gone] = keep
        work.extend((keep, other) for other in store.union(keep, gone))


class MemoryStore:
    """Groups and claims in memory, for replaying the live cases of a region."""

    def __init__(self) -> None:
        self.group_of: dict[int, int] = {}
        self.members: dict[int, set[int]] = {}
        self.claims: list[list[object]] = []  # [case_id, member, a, b]
        self._next = 0

    def groups_of(self, ids: list[int]) -> dict[int, int | None]:
        return {i: self.group_of.get(i) for i in ids}

    def sizes(self, gids: list[int]) -> dict[int, int]:
        return {g: len(self.members[g]) for g in gids}

    def new_group(self, ids: list[int]) -> int:
        self._next += 1
        self.members[self._next] = set()
        self.join(self._next, ids)
        return self._next

    def join(self, gid: int, ids: list[int]) -> None:
        for i in ids:
            self.group_of[i] = gid
        self.members[gid].update(ids)

    def add_claims(self, case_id: int, member: str, pairs: list[tuple[int, int]]) -> None:
        for a, b in pairs:
            claim = [case_id, member, a, b]
            if claim not in self.claims:
                self.claims.append(claim)

    def claimants(self, a: int, b: int) -> int:
        return len({c[1] for c in self.claims if {c[2], c[3]} == {a, b}})

    def union(self, keep: int, gone: int) -> set[int]:
        others: set[int] = set()
        for claim in self.claims:
            for side in (2, 3):
                if claim[side] == gone:
                    claim[side] = keep
                    other = claim[5 - side]
                    assert isinstance(other, int)
                    others.add(other)
        self.claims = [c for c in self.claims if c[2] != c[3]]
        self.join(keep, list(self.members.pop(gone)))
        return others - {keep, gone}


class SqlStore:
    """The persisted union-find: `Indicator.group_id`, `ComplaintGroup.size`, `case_bridges`.

    Every method is a constant number of statements over the case's own rows
    (indicators by id, groups by id, claims by group pair), so a case touching a
    5,000-indicator group costs what one touching a 5-indicator group does; only a
    merge relabels the smaller group's indicators (one UPDATE).
    """

    def __init__(self, session: Session, now: datetime, new_label: object) -> None:
        self.session = session
        self.now = now
        self._new_label = new_label
        self.touched: set[int] = set()
        self.gone: dict[int, str] = {}

    def groups_of(self, ids: list[int]) -> dict[int, int | None]:
        from hub.models.indicator import Indicator

        out: dict[int, int | None] = {}
        for chunk in chunked(ids):
            out.update(
                self.session.execute(
                    select(Indicator.id, Indicator.group_id).where(Indicator.id.in_(list(chunk)))
                ).all()
            )
        return out

    def sizes(self, gids: list[int]) -> dict[int, int]:
        rows = self.session.execute(
            select(ComplaintGroup.id, ComplaintGroup.size).where(ComplaintGroup.id.in_(gids))
        ).all()
        return dict(rows)

    def new_group(self, ids: list[int]) -> int:
        assert callable(self._new_label)
        group = ComplaintGroup(
            label=self._new_label(), size=0, created_at=self.now, updated_at=self.now
        )
        self.session.add(group)
        self.session.flush()
        gid = group.id
        self.session.expunge(group)  # its size is kept by UPDATEs from here on
        self.join(gid, ids)
        return gid

    def join(self, gid: int, ids: list[int]) -> None:
        from hub.models.indicator import Indicator

        for chunk in chunked(ids):
            self.session.execute(
                update(Indicator).where(Indicator.id.in_(list(chunk))).values(group_id=gid),
                execution_options={"synchronize_session": False},
            )
        self._grow(gid, len(ids))

    def _grow(self, gid: int, by: int) -> None:
        self.session.execute(
            update(ComplaintGroup)
            .where(ComplaintGroup.id == gid)
            .values(size=ComplaintGroup.size + by, updated_at=self.now),
            execution_options={"synchronize_session": False},
        )
        self.touched.add(gid)

    def add_claims(self, case_id: int, member: str, pairs: list[tuple[int, int]]) -> None:
        have = set(
            self.session.execute(
                select(CaseBridge.group_a, CaseBridge.group_b).where(
                    CaseBridge.case_id == case_id
                )
            ).all()
        )
        rows = [
            {"case_id": case_id, "member_id": member, "group_a": a, "group_b": b}
            for a, b in pairs
            if (a, b) not in have and (b, a) not in have
        ]
        if rows:
            self.session.execute(CaseBridge.__table__.insert(), rows)
        self.touched.update(g for pair in pairs for g in pair)

    def claimants(self, a: int, b: int) -> int:
        count = self.session.scalar(
            select(func.count(func.distinct(CaseBridge.member_id))).where(
                or_(
                    (CaseBridge.group_a == a) & (CaseBridge.group_b == b),
                    (CaseBridge.group_a == b) & (CaseBridge.group_b == a),
                )
            )
        )
        return int(count or 0)

    def union(self, keep: int, gone: int) -> set[int]:
        from hub.models.indicator import Indicator

        sides = self.session.execute(
            select(CaseBridge.group_a, CaseBridge.group_b).where(
                or_(CaseBridge.group_a == gone, CaseBridge.group_b == gone)
            )
        ).all()
        others = {g for pair in sides for g in pair} - {keep, gone}
        opts = {"synchronize_session": False}
        self.session.execute(
            update(Indicator).where(Indicator.group_id == gone).values(group_id=keep),
            execution_options=opts,
        )
        for column in ("group_a", "group_b"):
            col = getattr(CaseBridge, column)
            self.session.execute(
                update(CaseBridge).where(col == gone).values({column: keep}),
                execution_options=opts,
            )
        self.session.execute(
            delete(CaseBridge).where(CaseBridge.group_a == keep, CaseBridge.group_b == keep),
            execution_options=opts,
        )
        label, size = self.session.execute(
            select(ComplaintGroup.label, ComplaintGroup.size).where(ComplaintGroup.id == gone)
        ).one()
        self._grow(keep, size)
        self.gone[gone] = label
        self.touched.discard(gone)
        self.session.execute(
            delete(ComplaintGroup).where(ComplaintGroup.id == gone), execution_options=opts
        )
        return others
