"""Worked examples of the merge policy: the numbers a member can check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.services.merge import MergePolicy, ReportView, merge

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=180)


def rv(member: str, category: str = "fraud", confidence: int = 70, age_days: float = 0,
       state: str = "active") -> ReportView:
    return ReportView(member, category, confidence, NOW - timedelta(days=age_days), LATER, state)


def test_two_members_block() -> None:
    result = merge([rv("a"), rv("b")], {}, MergePolicy(), NOW)
    assert result.score == pytest.approx(1 - 0.3 * 0.3)
    assert result.tier == "block"
    assert result.reporter_count == 2
    assert result.categories == ("fraud",)


def test_one_member_with_many_reports_counts_once() -> None:
    result = merge([rv("a", c) for c in ("fraud", "spoofing", "robocall")], {}, MergePolicy(), NOW)
    assert result.score == pytest.approx(0.7)
    assert result.tier == "warn"
    assert result.reporter_count == 1


def test_half_life_halves_contribution() -> None:
    result = merge([rv("a", confidence=60, age_days=30)], {}, MergePolicy(), NOW)
    assert result.score == pytest.approx(0.3)
    assert result.tier == "none"


def test_single_high_confidence_warns() -> None:
    result = merge([rv("a", confidence=80, age_days=90)], {}, MergePolicy(), NOW)
    assert result.score < 0.5
    assert result.tier == "warn"


def test_weight_scales_member_and_zero_weight_silences() -> None:
    result = merge([rv("a", confidence=90), rv("b", confidence=90)], {"a": 0.0}, MergePolicy(), NOW)
    assert result.score == pytest.approx(0.9)
    assert result.tier == "warn"
    assert merge([rv("a", confidence=90)], {"a": 0.0}, MergePolicy(), NOW).tier == "none"


def test_held_block_becomes_warn() -> None:
    assert merge([rv("a"), rv("b")], {}, MergePolicy(), NOW, held=True).tier == "warn"


def test_decay_schedules_review_when_block_ends() -> None:
    result = merge([rv("a", confidence=60), rv("b", confidence=60)], {}, MergePolicy(), NOW)
    assert result.tier == "block"  # 1 - 0.4^2 = 0.84
    assert result.next_review_at is not None
    assert merge([rv("a", confidence=60), rv("b", confidence=60)], {}, MergePolicy(),
                 result.next_review_at).tier == "warn"


def test_policy_is_configuration() -> None:
    strict = MergePolicy(block_score=0.95, block_min_members=3)
    assert merge([rv("a", confidence=95), rv("b", confidence=95)], {}, strict, NOW).tier == "warn"
    assert merge([rv("a"), rv("b"), rv("c")], {}, strict, NOW).tier == "block"  # 0.973
    assert merge([rv("a", confidence=60)] * 3, {}, strict, NOW).tier == "warn"
