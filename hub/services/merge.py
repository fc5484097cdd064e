"""The consensus merge policy (docs/ARCHITECTURE.md §4): reports in, one listing out.

Pure and I/O free on purpose: the policy is what members and admins argue
about, so it must be testable on its own (see tests/hub/test_merge_properties.py)
and identical whether it runs during ingest, on a scheduled refresh or in a
what-if tool. The database layer (`hub.services.remerge`) only feeds it
`ReportView`s and stores the `MergeResult`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from hub.config import MergePolicy  # the policy numbers are settings (LIANFANG_POLICY_*)
from schemas.enums import Category, ReportState

LEGIT = Category.LEGIT.value
_DAY_S = 86400.0


@dataclass(frozen=True)
class ReportView:
    """What the merge needs to know about one stored report."""

    member_id: str
    category: str
    confidence: int
    last_seen: datetime
    expires_at: datetime
    state: str = ReportState.ACTIVE.value
    first_seen: datetime | None = None


class ReportLike(Protocol):
    """What `merge` reads from a report: a `ReportView`, or any object with these
    attributes (the database layer passes plain named tuples, cheaper by far for
    the thousands of reports a batch re-merges)."""

    @property
    def member_id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def confidence(self) -> int: ...
    @property
    def last_seen(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def state(self) -> str: ...
    @property
    def first_seen(self) -> datetime | None: ...


@dataclass(frozen=True)
class MergeResult:
    """One indicator's merged listing.

    `tier` is the effective tier (`block`, `warn` or `none`): an allowlisted
    indicator is always `none` here, because the allowlist beats block and warn.
    `score` is still the members' consensus, so admins can see the conflict.
    `conflict`: members' weighted legit votes reach the allowlist threshold while
    the bad reports say block or warn; the consensus allowlist is then *not*
    applied (the tier stands) until an admin decides (admin allowlist or keep).
    `lone_member`: the one member whose reports alone give the tier (counted
    against its `lone_warn_per_member` bound by the re-merge), else None.
    """

    score: float
    tier: str
    allowlisted: bool
    allow_source: str | None
    categories: tuple[str, ...]
    reporter_count: int
    first_seen: datetime | None
    last_seen: datetime | None
    next_review_at: datetime | None
    conflict: bool = False
    lone_member: str | None = None


def is_active(report: ReportLike, now: datetime) -> bool:
    """Retracted, overturned and expired reports stop counting."""
    return report.state == ReportState.ACTIVE and report.expires_at > now


def _decay(last_seen: datetime, at: datetime, half_life_days: float) -> float:
    age_days = max(0.0, (at - last_seen).total_seconds() / _DAY_S)
    return 0.5 ** (age_days / half_life_days)


def _weight(weights: Mapping[str, float], member_id: str) -> float:
    weight = weights.get(member_id, 1.0)
    if weight.__class__ is float and 0.0 < weight <= 1.0:
        return weight  # already in range: the clamp below would return it unchanged
    return min(1.0, max(0.0, float(weight)))


def _strongest(bad: list[ReportLike], policy: MergePolicy, at: datetime) -> dict[str, float]:
    """Each member's strongest `c_r/100 · decay_r` at `at` (first-seen member order)."""
    strongest: dict[str, float] = {}
    for report in bad:
        strength = report.confidence / 100.0 * _decay(report.last_seen, at, policy.half_life_days)
        if strength > strongest.get(report.member_id, -1.0):
            strongest[report.member_id] = strength
    return strongest


def _score_at(
    bad: list[ReportLike],
    weights: Mapping[str, float],
    policy: MergePolicy,
    at: datetime,
    strongest: dict[str, float] | None = None,
) -> float:
    """`1 − Π_m (1 − w_m · max_r(c_r/100 · decay_r))` over distinct members
    (`strongest`: `_strongest(bad, policy, at)` when the caller already has it)."""
    if strongest is None:
        strongest = _strongest(bad, policy, at)
    keep = 1.0
    for member_id, strength in strongest.items():
        keep *= 1.0 - _weight(weights, member_id) * min(1.0, strength)
    return 1.0 - keep


def _crossing(
    bad: list[ReportLike],
    weights: Mapping[str, float],
    policy: MergePolicy,
    now: datetime,
    threshold: float,
    horizon: datetime,
    strongest: dict[str, float] | None = None,
) -> datetime | None:
    """When decay takes the score below `threshold`, or None if not before `horizon`.

    Every report decays with the same half-life, so from `now` on each member's
    strongest strength is multiplied by one common factor f = 0.5^(x/half_life).
    Solving `1 − Π(1 − w_m·S_m·f) = threshold` for f is one monotone equation in
    one variable (closed form for a single member, bisection otherwise), far
    cheaper than re-merging at sample times. A report whose `last_seen` is still
    in the future decays later than modelled, so the answer errs early (safe).
    """
    if strongest is None:
        strongest = _strongest(bad, policy, now)
    terms = [_weight(weights, m) * s for m, s in strongest.items()]
    terms = [t for t in terms if t > 0.0]
    if not terms:
        return now

    def score(factor: float) -> float:
        keep = 1.0
        for term in terms:
            keep *= 1.0 - term * factor
        return 1.0 - keep

    if score(1.0) < threshold:
        return now
    factor = -1.0
    if len(terms) == 1:
        factor = threshold / terms[0]
    elif len(terms) == 2:
        # 1 − (1 − a·f)(1 − b·f) = T  ⇔  a·b·f² − (a + b)·f + T = 0; the smaller root.
        a, b = terms
        disc = max(0.0, (a + b) ** 2 - 4 * a * b * threshold)
        factor = ((a + b) - math.sqrt(disc)) / (2 * a * b) if a * b > 0.0 else -1.0
    if 0.0 < factor <= 1.0 and score(factor) < threshold:
        factor = min(1.0, factor * (1.0 + 1e-12))  # float rounding: onto the >= side
    if not 0.0 < factor <= 1.0 or score(factor) < threshold:
        low, high = 0.0, 1.0  # score(high) >= threshold > score(low)
        for _ in range(50):
            mid = (low + high) / 2
            if score(mid) >= threshold:
                high = mid
            else:
                low = mid
        factor = high
    if factor >= 1.0:
        return now + timedelta(seconds=1)
    seconds = -policy.half_life_days * _DAY_S * math.log2(factor)
    crossing = now + timedelta(seconds=math.ceil(seconds) + 1)
    return crossing if crossing < horizon else None


def merge(
    reports: Iterable[ReportLike],
    weights: Mapping[str, float],
    policy: MergePolicy,
    now: datetime,
    *,
    admin_allowlisted: bool = False,
    held: bool = False,
    lone_allowed: bool = True,
) -> MergeResult:
    """Merge one indicator's reports into its listing (see the module docstring).

    A member counts once, with its strongest active non-`legit` report; a member
    whose weight is 0 (suspended, revoked, or delisted disputes) contributes
    nothing: not the single-report warn, and not a `legit` vote for the allowlist.
    An open dispute (`held`) keeps the indicator out of `block` (it shows as
    `warn` instead). `lone_allowed=False`: the one member reporting it has used up
    its bound of lone listings, so its reports alone leave the tier at `none`.
    """
    active = [r for r in reports if is_active(r, now)]
    # Each member's clamped weight once (clamping is idempotent, so the helpers
    # below give the same numbers from this map as from `weights`).
    weight_of = {m: _weight(weights, m) for m in {r.member_id for r in active}}
    bad = [r for r in active if r.category != LEGIT and weight_of[r.member_id] > 0.0]
    legit_members = {
        r.member_id for r in active if r.category == LEGIT and weight_of[r.member_id] > 0.0
    }
    bad_members = {r.member_id for r in bad}

    strongest = _strongest(bad, policy, now)  # shared by the score and the crossing
    score = _score_at(bad, weight_of, policy, now, strongest)
    single_strong = any(r.confidence >= policy.warn_single_confidence for r in bad)
    # Each legit voter counts with its weight: two delisted members are not two votes.
    legit_weight = sum(weight_of[m] for m in legit_members)
    consensus_allow = legit_weight >= policy.allow_min_members - 1e-9

    consensus_tier = "none"
    if score >= policy.block_score and len(bad_members) >= policy.block_min_members:
        consensus_tier = "warn" if held else "block"
    elif score >= policy.warn_score or single_strong:
        consensus_tier = "warn"
    lone = next(iter(bad_members)) if len(bad_members) == 1 else None
    if lone is not None and not lone_allowed:
        consensus_tier = "none"
    # Members voting a block or warn away is an admin's call, not automatic.
    conflict = consensus_allow and consensus_tier != "none" and not admin_allowlisted
    consensus_allow = consensus_allow and not conflict
    allowlisted = admin_allowlisted or consensus_allow
    allow_source = "admin" if admin_allowlisted else ("consensus" if consensus_allow else None)
    tier = "none" if allowlisted else consensus_tier

    expiries = [r.expires_at for r in active]
    next_review = min(expiries) if expiries else None
    if consensus_tier != "none" and not allowlisted and next_review is not None:
        threshold = None
        if consensus_tier == "block":
            threshold = policy.block_score
        elif not single_strong:
            threshold = policy.warn_score
        if threshold is not None:
            crossing = _crossing(
                bad, weight_of, policy, now, threshold, next_review, strongest
            )
            if crossing is not None:
                next_review = min(next_review, crossing)

    firsts = [r.first_seen or r.last_seen for r in active]
    lasts = [r.last_seen for r in active]
    return MergeResult(
        score=round(score, 6),
        tier=tier,
        allowlisted=allowlisted,
        allow_source=allow_source,
        categories=tuple(sorted({r.category for r in active})),
        reporter_count=len({r.member_id for r in active}),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        next_review_at=next_review,
        conflict=conflict,
        lone_member=lone if tier != "none" else None,
    )
