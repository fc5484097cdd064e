"""Report wire schemas: defaults, limits, and the fast path agreeing with the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.reports import (
    AllowlistAddSchema,
    CaseSchema,
    ReportSchema,
    fast_load_report,
)
from schemas.timefmt import format_time, parse_time

NOW = parse_time("2026-11-24T12:00:00Z")
HEX = "0123456789abcdef"


def test_defaults_fill_times() -> None:
    with time_machine.travel(NOW, tick=False):
        data = ReportSchema().load(
            {"kind": "phone", "value": "a" * 64, "category": "fraud", "confidence": 50,
             "key_epoch": 1, "last_seen": "2026-11-20T00:00:00Z"}
        )
    assert data["first_seen"] == data["last_seen"] == parse_time("2026-11-20T00:00:00Z")
    assert data["expires_at"] == data["last_seen"] + timedelta(days=180)
    assert data["case_ref"] is None


def test_complaint_text_takes_16_hex_and_phone_does_not() -> None:
    base = {"category": "malicious_complaint", "confidence": 50, "key_epoch": 1}
    ReportSchema().load({**base, "kind": "complaint_text", "value": "0f" * 8})
    with pytest.raises(ValidationError) as err:
        ReportSchema().load({**base, "kind": "phone", "value": "0f" * 8})
    assert "value" in err.value.messages


def test_case_limits() -> None:
    ind = [{"kind": "phone", "value": f"{i:064x}"} for i in range(501)]
    body = {"indicators": ind, "key_epoch": 1, "observed_at": "2026-01-01T00:00:00Z"}
    with pytest.raises(ValidationError) as err:
        CaseSchema().load(body)
    assert "indicators" in err.value.messages
    assert len(CaseSchema().load({**body, "indicators": ind[:500]})["indicators"]) == 500


def test_allowlist_raw_number_is_never_echoed() -> None:
    with pytest.raises(ValidationError) as err:
        AllowlistAddSchema().load({"kind": "phone", "value": "13800138000", "key_epoch": 1})
    assert "13800138000" not in str(err.value.messages)


times = st.one_of(
    st.none(),
    st.just("garbage"),
    st.integers(-400, 900).map(lambda d: format_time(NOW + timedelta(days=d))),
    st.integers(-600, 600).map(lambda s: format_time(NOW + timedelta(seconds=s))),
)
items = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["phone", "complaint_text", "email", "fax", 3]),
        "value": st.one_of(
            st.text(HEX, min_size=64, max_size=64),
            st.text(HEX, min_size=16, max_size=16),
            st.text(HEX + "ABCDEFx", min_size=15, max_size=65),
            st.integers(),
        ),
        "category": st.sampled_from(["fraud", "legit", "spam", None]),
        "confidence": st.one_of(st.integers(-2, 102), st.booleans(), st.floats(0, 100)),
        "key_epoch": st.one_of(st.integers(-1, 5), st.just("1")),
    },
    optional={
        "first_seen": times,
        "last_seen": times,
        "expires_at": times,
        "case_ref": st.one_of(st.none(), st.text(max_size=70)),
        "extra": st.integers(),
    },
)


@settings(max_examples=400)
@given(items)
def test_fast_path_accepts_only_what_the_schema_accepts_identically(item: dict) -> None:
    with time_machine.travel(NOW, tick=False):
        fast = fast_load_report(item, NOW)
        try:
            slow = ReportSchema().load(item)
        except ValidationError:
            slow = None
    if fast is not None:
        assert slow == fast


def test_fast_path_takes_the_plain_item() -> None:
    item = {"kind": "phone", "value": "ab" * 32, "category": "fraud", "confidence": 90,
            "key_epoch": 1}
    fast = fast_load_report(item, NOW)
    assert fast is not None and fast["expires_at"] == NOW + timedelta(days=180)
    assert fast_load_report({**item, "confidence": True}, NOW) is None
    assert fast_load_report({**item, "surprise": 1}, NOW) is None
