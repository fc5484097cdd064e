"""Invariants of the consensus merge (docs/ARCHITECTURE.md §4), checked with Hypothesis."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.services.merge import MergePolicy, ReportView, merge
from schemas.enums import Category

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = MergePolicy()
MEMBERS = ["m-a", "m-b", "m-c", "m-d"]
BAD = [c.value for c in Category if c is not Category.LEGIT]


@st.composite
def reports(draw: st.DrawFn, member: str | None = None, active: bool | None = None) -> ReportView:
    last_seen = NOW - timedelta(hours=draw(st.integers(0, 24 * 200)))
    if active is None:
        state = draw(st.sampled_from(["active", "active", "retracted", "overturned"]))
        expires = last_seen + timedelta(hours=draw(st.integers(1, 24 * 400)))
    elif active:
        state = "active"
        expires = NOW + timedelta(hours=draw(st.integers(1, 24 * 400)))
    else:
        state = draw(st.sampled_from(["retracted", "overturned", "active"]))
        expires = (
            NOW - timedelta(hours=draw(st.integers(0, 100)))
            if state == "active"
            else NOW + timedelta(days=30)
        )
    return ReportView(
        member_id=member or draw(st.sampled_from(MEMBERS)),
        category=draw(st.sampled_from([*BAD, Category.LEGIT.value])),
        confidence=draw(st.integers(1, 100)),
        last_seen=last_seen,
        expires_at=expires,
        state=state,
    )


weights_st = st.fixed_dictionaries({m: st.floats(0.0, 1.0) for m in MEMBERS})


@given(st.lists(reports(), max_size=12), weights_st, st.randoms(use_true_random=False))
def test_report_order_does_not_matter(rs: list[ReportView], weights, rnd) -> None:
    shuffled = list(rs)
    rnd.shuffle(shuffled)
    assert merge(rs, weights, POLICY, NOW) == merge(shuffled, weights, POLICY, NOW)


@given(st.lists(reports(), max_size=12), reports(), weights_st)
def test_adding_a_report_never_lowers_the_score(rs, extra, weights) -> None:
    before = merge(rs, weights, POLICY, NOW).score
    after = merge([*rs, extra], weights, POLICY, NOW).score
    assert after >= before


@given(st.sampled_from(MEMBERS), st.data(), weights_st)
def test_a_single_member_never_blocks(member: str, data: st.DataObject, weights) -> None:
    rs = data.draw(st.lists(reports(member=member, active=True), min_size=1, max_size=20))
    strong = [dataclasses.replace(r, confidence=100, last_seen=NOW) for r in rs]
    for batch in (rs, strong):
        assert merge(batch, {member: 1.0}, POLICY, NOW).tier != "block"
        assert merge(batch, weights, POLICY, NOW).tier != "block"


@given(st.lists(reports(), max_size=12), weights_st, st.booleans())
def test_admin_allowlist_always_wins(rs, weights, held) -> None:
    result = merge(rs, weights, POLICY, NOW, admin_allowlisted=True, held=held)
    assert result.allowlisted
    assert result.allow_source == "admin"
    assert result.tier == "none"


@given(st.lists(reports(), max_size=12), weights_st, st.sampled_from(MEMBERS), st.data())
def test_weighted_legit_allowlists_only_where_nothing_is_listed(rs, weights, first, data) -> None:
    """Legit votes count with their weights; against a block or warn they raise a conflict
    for an admin and the tier stands (issue 13, item 3)."""
    second = data.draw(st.sampled_from([m for m in MEMBERS if m != first]))
    legit = [
        ReportView(m, Category.LEGIT.value, 50, NOW, NOW + timedelta(days=1))
        for m in (first, second)
    ]
    voters = {first, second} | {
        r.member_id for r in rs
        if r.category == Category.LEGIT.value and r.state == "active" and r.expires_at > NOW
    }
    legit_weight = sum(min(1.0, max(0.0, weights.get(m, 1.0))) for m in voters)
    without = merge([r for r in rs], weights, POLICY, NOW)
    result = merge([*rs, *legit], weights, POLICY, NOW)
    bad_tier = merge(
        [r for r in rs if r.category != Category.LEGIT.value], weights, POLICY, NOW
    ).tier
    if legit_weight < POLICY.allow_min_members - 1e-9:
        assert not result.allowlisted and not result.conflict
    elif bad_tier == "none":
        assert result.allowlisted and result.allow_source == "consensus"
        assert result.tier == "none"
    else:
        assert result.conflict and not result.allowlisted
        assert result.tier == bad_tier
    assert without.tier in ("none", bad_tier)


@given(st.lists(reports(), max_size=12), weights_st, st.sampled_from(MEMBERS), st.data())
def test_legit_from_a_zero_weight_member_is_no_vote(rs, weights, first, data) -> None:
    """A suspended or revoked member (weight 0) cannot help allowlist a number."""
    second = data.draw(st.sampled_from([m for m in MEMBERS if m != first]))
    bad_only = [r for r in rs if r.category != Category.LEGIT.value]
    weights = {**weights, first: 0.0, second: 1.0}
    legit = [
        ReportView(m, Category.LEGIT.value, 50, NOW, NOW + timedelta(days=1))
        for m in (first, second)
    ]
    result = merge([*bad_only, *legit], weights, POLICY, NOW)
    assert not result.allowlisted
    assert result.allow_source is None
    assert result.tier == merge([*bad_only, legit[1]], weights, POLICY, NOW).tier


@given(
    st.lists(reports(active=True), max_size=10),
    st.lists(reports(active=False), min_size=1, max_size=10),
    weights_st,
)
def test_inactive_reports_change_nothing(live, dead, weights) -> None:
    assert merge([*live, *dead], weights, POLICY, NOW) == merge(live, weights, POLICY, NOW)


@given(st.lists(reports(), max_size=12), weights_st)
def test_held_never_blocks_and_block_needs_two_members(rs, weights) -> None:
    free = merge(rs, weights, POLICY, NOW)
    held = merge(rs, weights, POLICY, NOW, held=True)
    assert held.tier != "block"
    if free.tier == "block":
        assert held.tier == "warn"
        assert free.score >= POLICY.block_score
    if free.tier != "none":
        assert free.next_review_at is not None and free.next_review_at > NOW


@settings(max_examples=60)
@given(st.lists(reports(active=True), min_size=1, max_size=8), weights_st)
def test_nothing_changes_before_next_review(rs, weights) -> None:
    """`next_review_at` is safe: the tier is the same at any moment before it."""
    now_result = merge(rs, weights, POLICY, NOW)
    assert now_result.next_review_at is not None
    just_before = now_result.next_review_at - timedelta(seconds=61)
    if just_before > NOW:
        later = merge(rs, weights, POLICY, just_before)
        assert later.tier == now_result.tier
        assert later.allowlisted == now_result.allowlisted


@settings(max_examples=150)
@given(st.lists(reports(active=True), min_size=1, max_size=8), weights_st)
def test_a_decay_review_is_not_wasted(rs, weights) -> None:
    """When `next_review_at` comes before every expiry, decay has changed the tier by then."""
    result = merge(rs, weights, POLICY, NOW)
    first_expiry = min(r.expires_at for r in rs)
    if result.next_review_at is not None and result.next_review_at < first_expiry:
        assert merge(rs, weights, POLICY, result.next_review_at).tier != result.tier
