"""Reports over real HTTP on SQLite and PostgreSQL: consensus, limits, idempotency, journal."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from hub.db import get_db
from hub.models.audit import AuditEntry
from hub.models.report import Report, ReportBatch
from hub.services.merge import MergePolicy
from hub.services.remerge import remerge_due
from schemas.timefmt import format_time, utcnow
from tests.hub.reports_support import count, hv, journal, journal_head, listing, rep, report, signed


def test_two_members_block_and_one_alone_never_does(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    head = journal_head(live_hub)

    first = report(live_hub, a, [rep(value, c, 100) for c in ("fraud", "spoofing", "robocall")])
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 3 and first.json()["errors"] == []
    alone = listing(live_hub, a, value)
    assert alone["tier"] == "warn" and alone["reporter_count"] == 1
    assert journal(live_hub, head) == [("phone-warn", value, "add")]

    head = journal_head(live_hub)
    second = report(live_hub, b, [rep(value, "fraud", 90)])
    assert second.status_code == 200, second.text
    view = listing(live_hub, b, value)
    assert view["tier"] == "block"
    assert view["reporter_count"] == 2
    assert view["score"] >= 0.8
    assert view["categories"] == ["fraud", "robocall", "spoofing"]
    assert a[0] not in str(view) and b[0] not in str(view)
    assert journal(live_hub, head) == [
        ("phone-warn", value, "remove"),
        ("phone-block", value, "add"),
    ]


def test_journal_only_when_membership_changes(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    quiet, loud = hv(), hv()
    report(live_hub, a, [rep(quiet, confidence=30)])
    assert listing(live_hub, a, quiet)["tier"] == "none"
    head = journal_head(live_hub)
    report(live_hub, a, [rep(quiet, confidence=40)])  # still below warn
    report(live_hub, b, [rep(loud, confidence=85)])
    assert journal(live_hub, head) == [("phone-warn", loud, "add")]
    head = journal_head(live_hub)
    report(live_hub, b, [rep(loud, confidence=95)])  # re-report: same feed
    assert journal(live_hub, head) == []


def test_retract_removes(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    report(live_hub, a, [rep(value, confidence=90)])
    report(live_hub, b, [rep(value, confidence=90)])
    assert listing(live_hub, a, value)["tier"] == "block"
    head = journal_head(live_hub)
    out = signed(live_hub, b, "POST", "/v1/reports/retract", {"items": [
        {"kind": "phone", "value": value}, {"kind": "phone", "value": hv()}]})
    assert out.status_code == 200, out.text
    assert out.json() == {"retracted": 1, "not_found": [1]}
    assert listing(live_hub, a, value)["tier"] == "warn"
    out = signed(live_hub, a, "POST", "/v1/reports/retract",
                 {"items": [{"kind": "phone", "value": value, "category": "fraud"}]})
    assert out.json()["retracted"] == 1
    gone = listing(live_hub, a, value)
    assert gone["tier"] == "none" and gone["reporter_count"] == 0
    assert journal(live_hub, head) == [
        ("phone-block", value, "remove"),
        ("phone-warn", value, "add"),
        ("phone-warn", value, "remove"),
    ]


def test_expiry_removes_after_remerge_due(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    now = utcnow()
    expires = format_time(now + timedelta(days=2))
    report(live_hub, a, [rep(value, expires_at=expires)])
    report(live_hub, b, [rep(value)])
    assert listing(live_hub, a, value)["tier"] == "block"
    with time_machine.travel(now + timedelta(days=3), tick=True):
        head = journal_head(live_hub)
        with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
            assert remerge_due(session, utcnow(), policy=MergePolicy()) >= 1
            session.commit()
        view = listing(live_hub, b, value)
        assert view["tier"] == "warn" and view["reporter_count"] == 1
        assert journal(live_hub, head) == [
            ("phone-block", value, "remove"),
            ("phone-warn", value, "add"),
        ]


def test_partial_batch_accepts_the_good_items(live_hub) -> None:
    a = live_hub.new_member()
    good = hv()
    out = report(live_hub, a, [rep(good), rep("13800138000"), rep(hv(), confidence=0)])
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["accepted"] == 1
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert "value" in body["errors"][0]["fields"]
    assert "confidence" in body["errors"][1]["fields"]
    assert listing(live_hub, a, good)["reporter_count"] == 1


def test_raw_phone_number_is_refused_with_hash_it(live_hub) -> None:
    a = live_hub.new_member()
    for raw in ("+8613800138000", "138 0013 8000", "13800138000"):
        out = report(live_hub, a, [rep(raw)])
        assert out.status_code == 422, out.text
        message = " ".join(out.json()["errors"][0]["fields"]["value"])
        assert "hash" in message
        assert raw not in out.text
    assert count(live_hub, Report) == 0


def test_duplicate_batch_with_same_key_changes_nothing(live_hub) -> None:
    a = live_hub.new_member()
    batch = [rep(hv()), rep(hv(), confidence=85)]
    key = {"Idempotency-Key": "batch-2026-11-24-0001"}
    first = report(live_hub, a, batch, headers=key)
    assert first.status_code == 200, first.text
    head, reports, batches = journal_head(live_hub), count(live_hub, Report), count(
        live_hub, ReportBatch)
    again = report(live_hub, a, batch, headers=key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (journal_head(live_hub), count(live_hub, Report), count(live_hub, ReportBatch)) == (
        head, reports, batches)
    other = report(live_hub, a, [rep(hv())], headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    # The key is per member: another member may use the same one.
    b = live_hub.new_member()
    assert report(live_hub, b, batch, headers=key).status_code == 200


def test_batch_provenance_and_one_audit_entry_per_batch(live_hub) -> None:
    a = live_hub.new_member()
    values = [hv() for _ in range(3)]
    out = report(live_hub, a, [rep(v) for v in values])
    batch_id = out.json()["batch_id"]
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        batch = session.get(ReportBatch, batch_id)
        assert batch is not None and batch.member_id == a[0]
        assert batch.signature and batch.nonce and batch.signed_timestamp
        assert len(batch.body_sha256) == 64
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reports.submit")
        ).all()
    assert [(e.actor, e.subject) for e in entries] == [(f"member:{a[0]}", batch_id)]
    assert not any(v in entries[0].details for v in values)


NOW_FIELD = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("kind", "fax"),
        ("kind", None),
        ("value", "xyz"),
        ("value", "A" * 64),
        ("value", 12345),
        ("category", "spam"),
        ("confidence", 0),
        ("confidence", 101),
        ("confidence", "90"),
        ("confidence", 50.5),
        ("first_seen", "2026-01-01"),
        ("first_seen", "2099-01-01T00:00:00Z"),
        ("last_seen", "yesterday"),
        ("last_seen", "2099-01-01T00:00:00Z"),
        ("expires_at", "2020-01-01T00:00:00Z"),
        ("expires_at", "2099-01-01T00:00:00Z"),
        ("key_epoch", 0),
        ("key_epoch", 99),
        ("key_epoch", "1"),
        ("case_ref", "x" * 65),
        ("surprise", 1),
    ],
)
def test_every_malformed_field_is_named(live_hub, field: str, bad: object) -> None:
    a = live_hub.new_member()
    item = rep(hv(), last_seen=NOW_FIELD if field in ("first_seen", "expires_at") else None)
    if item["last_seen"] is None:
        del item["last_seen"]
    item[field] = bad
    out = report(live_hub, a, [item])
    assert out.status_code == 422, out.text
    body = out.json()
    assert field in body["error"]["fields"]["reports"]["0"]
    assert body["errors"][0]["fields"].keys() == {field}


@pytest.mark.parametrize(
    "body",
    [{}, {"reports": []}, {"reports": "x"}, [], {"reports": [1], "extra": True}],
)
def test_malformed_envelope(live_hub, body: object) -> None:
    a = live_hub.new_member()
    out = signed(live_hub, a, "POST", "/v1/reports", body)
    assert out.status_code == 422, out.text


def test_too_many_reports_and_too_large_body(live_hub) -> None:
    a = live_hub.new_member()
    item = rep(hv())
    out = report(live_hub, a, [item] * 10_001)
    assert out.status_code == 422
    assert "reports" in out.json()["error"]["fields"]
    big = b'{"reports": [' + b'"' + b"x" * (9 * 1024 * 1024) + b'"]}'
    out = signed(live_hub, a, "POST", "/v1/reports", raw=big)
    assert out.status_code == 413


def test_unsigned_and_unapproved_cannot_report(live_hub) -> None:
    out = live_hub.http.post(live_hub.url + "/v1/reports", json={"reports": [rep(hv())]})
    assert out.status_code == 401
    pending = live_hub.new_member(approve=False)
    assert report(live_hub, pending, [rep(hv())]).status_code == 403


def test_lookup_of_unknown_and_raw_values(live_hub) -> None:
    a = live_hub.new_member()
    assert signed(live_hub, a, "GET", f"/v1/indicators/phone/{hv()}").status_code == 404
    raw = signed(live_hub, a, "GET", "/v1/indicators/phone/13800138000")
    assert raw.status_code == 422 and "value" in raw.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"kind": "phone", "value": "13800138000"}]}, "items"),
        ({"items": [{"kind": "phone", "value": "ab" * 32, "category": "nope"}]}, "items"),
        ({}, "items"),
    ],
)
def test_malformed_retraction(live_hub, body: dict, field: str) -> None:
    a = live_hub.new_member()
    out = signed(live_hub, a, "POST", "/v1/reports/retract", body)
    assert out.status_code == 422, out.text
    assert field in out.json()["error"]["fields"]
