"""The allowlist beats block and warn; conflicts are shown to admins; raw numbers are hashed."""

from __future__ import annotations

import base64

from sqlalchemy import select

from client_sdk import hash_indicator
from hub.db import get_db
from hub.models.audit import AuditEntry
from tests.hub.reports_support import hv, journal, journal_head, listing, rep, report, signed


def test_admin_allowlist_wins_and_conflict_is_shown(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    report(live_hub, a, [rep(value)])
    report(live_hub, b, [rep(value)])
    assert listing(live_hub, a, value)["tier"] == "block"
    head = journal_head(live_hub)
    out = live_hub.admin("POST", "/v1/admin/allowlist",
                         {"kind": "phone", "value": value, "key_epoch": 1, "note": "bank hotline"})
    assert out.status_code == 201, out.text
    view = listing(live_hub, a, value)
    assert view["allowlisted"] is True and view["allow_source"] == "admin"
    assert view["tier"] == "none"
    assert journal(live_hub, head) == [
        ("phone-block", value, "remove"),
        ("phone-allow", value, "add"),
    ]
    conflicts = live_hub.admin("GET", "/v1/admin/conflicts").json()["items"]
    assert [(c["value"], c["categories"]) for c in conflicts] == [(value, ["fraud"])]
    # More bad reports change nothing in the feeds while it is allowlisted.
    head = journal_head(live_hub)
    report(live_hub, live_hub.new_member(), [rep(value, "spoofing", 100)])
    assert journal(live_hub, head) == []

    entries = live_hub.admin("GET", "/v1/admin/allowlist").json()["items"]
    assert [(e["value"], e["note"]) for e in entries] == [(value, "bank hotline")]
    gone = live_hub.admin("DELETE", f"/v1/admin/allowlist/phone/{value}")
    assert gone.status_code == 204
    assert listing(live_hub, a, value)["tier"] == "block"
    assert live_hub.admin("DELETE", f"/v1/admin/allowlist/phone/{value}").status_code == 404


def test_legit_from_two_members_allowlists_an_unlisted_number(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    report(live_hub, a, [rep(value, "legit", 90)])
    assert listing(live_hub, a, value)["allowlisted"] is False
    report(live_hub, b, [rep(value, "legit", 90)])
    view = listing(live_hub, a, value)
    assert view["allowlisted"] is True and view["allow_source"] == "consensus"
    assert view["tier"] == "none"


def test_legit_votes_against_a_warn_leave_it_at_warn(live_hub) -> None:
    a, b, c = live_hub.new_member(), live_hub.new_member(), live_hub.new_member()
    value = hv()
    report(live_hub, c, [rep(value, confidence=95)])
    report(live_hub, a, [rep(value, "legit", 90)])
    report(live_hub, b, [rep(value, "legit", 90)])
    view = listing(live_hub, a, value)
    assert view["allowlisted"] is False and view["tier"] == "warn"


def test_raw_number_is_hashed_with_the_current_key_and_dropped(live_hub) -> None:
    a = live_hub.new_member()
    doc = signed(live_hub, a, "GET", "/v1/consortium-key").json()
    key = base64.b64decode(doc["keys"][0]["key"])
    raw = "138 0013 8000"
    out = live_hub.admin("POST", "/v1/admin/allowlist", {"raw_number": raw})
    assert out.status_code == 201, out.text
    expected = hash_indicator("phone", raw, key)
    assert out.json()["value"] == expected
    assert "13800138000" not in out.text
    assert listing(live_hub, a, expected)["allowlisted"] is True
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        entries = session.scalars(select(AuditEntry)).all()
    logged = " ".join(f"{e.action} {e.subject} {e.details}" for e in entries)
    assert "allowlist.add" in logged
    assert "13800138000" not in logged and "138 0013" not in logged


def test_allowlist_input_errors(live_hub) -> None:
    cases = [
        ({}, {"kind", "value", "key_epoch"}),
        ({"raw_number": "not a number"}, {"raw_number"}),
        ({"raw_number": "13800138000", "kind": "phone"}, {"raw_number"}),
        ({"kind": "phone", "value": "13800138000", "key_epoch": 1}, {"value"}),
        ({"kind": "phone", "value": hv(), "key_epoch": 7}, {"key_epoch"}),
    ]
    for body, fields in cases:
        out = live_hub.admin("POST", "/v1/admin/allowlist", body)
        assert out.status_code == 422, (body, out.text)
        assert set(out.json()["error"]["fields"]) == fields, body
