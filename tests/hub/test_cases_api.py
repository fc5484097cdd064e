"""Complaint cases and groups over real HTTP, written as the attacks of issue 13 item 7.

Each test drives the real hub (SQLite and PostgreSQL) with the real `MemberClient`
or signed requests and checks what the published `complaint-groups` feed says.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from hub.db import get_db
from hub.feeds.builder import build_feeds
from hub.models.audit import AuditEntry
from hub.services.groups import group_record
from schemas.timefmt import format_time, utcnow
from tests.hub.groups_support import (
    bank,
    feed_records,
    hashed,
    label_of,
    raw_id_number,
    raw_phone,
)
from tests.hub.reports_support import hv, journal, journal_head, signed

OBSERVED = format_time(utcnow() - timedelta(days=1))


def case(indicators: list[tuple[str, str]], **extra: object) -> dict:
    return {
        "indicators": [{"kind": k, "value": v} for k, v in indicators],
        "key_epoch": 1,
        "observed_at": OBSERVED,
        **extra,
    }


def submit(hub, member, indicators, **extra) -> dict:
    out = signed(hub, member, "POST", "/v1/cases", case(indicators, **extra))
    assert out.status_code == 201, out.text
    return out.json()


def record(hub, label: str | None) -> dict | None:
    assert label is not None
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return group_record(session, label)


def listed_group(hub, a, b) -> tuple[tuple[str, str], tuple[str, str], str]:
    """Two members' cases sharing one value: a listed group (returns shared, other, label)."""
    shared, other = ("id_number", hv()), ("phone", hv())
    submit(hub, a, [shared, other])
    submit(hub, b, [shared, ("email", hv())])
    label = label_of(hub, *shared)
    assert label is not None and record(hub, label) is not None
    return shared, other, label


def published(hub, reader) -> dict[str, dict]:
    build_feeds(hub.app)
    return {r["group_id"]: r for r in feed_records(hub, reader, "complaint-groups")[1]}


# ------------------------------------------------------------------ the basics


def test_cases_at_two_members_form_one_listed_group(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    phone, text, device = ("phone", hv()), ("complaint_text", hv()[:16]), ("device", hv())
    head = journal_head(live_hub)
    first = submit(live_hub, a, [phone, text], case_ref="A-1")
    assert first == {"case_id": first["case_id"], "state": "active", "indicators": 2}
    label = label_of(live_hub, *text)
    assert record(live_hub, label) is None
    submit(live_hub, b, [text, device])
    assert label_of(live_hub, *device) == label
    rec = record(live_hub, label)
    assert rec is not None
    assert rec["action"] == "review" and rec["member_count"] == 2
    assert rec["categories"] == ["malicious_complaint"]
    assert rec["first_seen"] == OBSERVED
    # Only the indicator both members' cases contain is published.
    assert rec["indicators"] == [{"kind": text[0], "value": text[1]}]
    assert a[0] not in str(rec) and b[0] not in str(rec)
    assert ("complaint-groups", label, "upsert") in journal(live_hub, head)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("indicators", []),
        ("indicators", [{"kind": "phone", "value": "x"}]),
        ("indicators", [{"kind": "phone", "value": "13800138000"}, {"kind": "phone"}]),
        ("category", "fraud"),
        ("key_epoch", 42),
        ("observed_at", "now"),
        ("case_ref", ""),
    ],
)
def test_malformed_case_fields(live_hub, field: str, bad: object) -> None:
    a = live_hub.new_member()
    body = case([("phone", hv()), ("phone", hv())])
    body[field] = bad
    out = signed(live_hub, a, "POST", "/v1/cases", body)
    assert out.status_code == 422, out.text
    assert field in out.json()["error"]["fields"]


def test_a_case_needs_two_distinct_indicators(live_hub) -> None:
    a = live_hub.new_member()
    same = ("phone", hv())
    out = signed(live_hub, a, "POST", "/v1/cases", case([same, same]))
    assert out.status_code == 422
    assert "indicators" in out.json()["error"]["fields"]


def test_concurrent_cases_leave_every_indicator_in_exactly_one_group(live_hub) -> None:
    from concurrent.futures import ThreadPoolExecutor

    members = [live_hub.new_member() for _ in range(4)]
    chain = [("phone", hv()) for _ in range(5)]
    pairs = [[chain[i], chain[i + 1]] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda mp: signed(live_hub, mp[0], "POST", "/v1/cases", case(mp[1])),
            zip(members, pairs, strict=True),
        ))
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    groups = live_hub.admin("GET", "/v1/admin/groups").json()["items"]
    labels = [label_of(live_hub, *value) for value in chain]
    assert None not in labels
    # Sizes agree with where the indicators are, whatever order the cases ran in
    # (two cases founding groups first leaves the bridge between them unconfirmed).
    assert sorted(g["size"] for g in groups) == sorted(
        labels.count(label) for label in set(labels)
    )


# ---------------------------------------------- attack: one case bridges 60 groups


def test_one_members_case_holding_an_indicator_of_each_of_60_listed_groups_merges_nothing(
    live_hub,
) -> None:
    """The review's attack: 60 groups, each listed by two banks; a third bank's single
    case names one ID number from each. No group merges, the feed is unchanged."""
    b, c, attacker = bank(live_hub), bank(live_hub), bank(live_hub)
    reader = live_hub.new_member()
    ids = [raw_id_number(i) for i in range(60)]
    for raw in ids:
        b.report_case([("id_number", raw), ("phone", raw_phone())])
        c.report_case([("id_number", raw), ("phone", raw_phone())])
    before = published(live_hub, reader)
    assert len(before) == 60

    answer = attacker.report_case([("id_number", raw) for raw in ids] + [("phone", raw_phone())])
    assert set(answer) == {"case_id", "state", "indicators"}  # no group label
    after = published(live_hub, reader)
    assert after == before
    labels = {label_of(live_hub, "id_number", hashed(b, "id_number", raw)) for raw in ids}
    assert len(labels) == 60

    # Within the join limit a lone member still cannot merge: three groups, one case.
    attacker.report_case([("id_number", raw) for raw in ids[:3]])
    assert set(published(live_hub, reader)) == set(before)
    labels = {label_of(live_hub, "id_number", hashed(b, "id_number", raw)) for raw in ids}
    assert len(labels) == 60


def test_merging_two_groups_needs_a_second_members_case(live_hub) -> None:
    a, b, c, d = (live_hub.new_member() for _ in range(4))
    left_shared, left_other, left = listed_group(live_hub, a, b)
    right_shared, right_other, right = listed_group(live_hub, a, b)
    assert left != right
    submit(live_hub, c, [left_other, right_other, ("phone", hv())])
    assert label_of(live_hub, *right_shared) == right  # c's word alone links nothing
    head = journal_head(live_hub)
    submit(live_hub, d, [left_shared, right_shared])  # d corroborates the link
    merged = label_of(live_hub, *left_shared)
    assert merged == label_of(live_hub, *right_shared)
    assert merged in (left, right)
    gone = right if merged == left else left
    assert ("complaint-groups", gone, "remove") in journal(live_hub, head)
    rec = record(live_hub, merged)
    assert rec is not None
    assert {left_shared[1], right_shared[1]} <= {i["value"] for i in rec["indicators"]}


def test_a_case_touching_more_groups_than_the_limit_links_nothing(live_hub) -> None:
    """`LIANFANG_CASE_MAX_GROUP_JOINS` (default 3): even two members' cases touching
    four groups each do not merge them."""
    a, b, c, d = (live_hub.new_member() for _ in range(4))
    groups = [listed_group(live_hub, a, b) for _ in range(4)]
    for member in (c, d):
        submit(live_hub, member, [g[0] for g in groups])
    assert len({label_of(live_hub, *g[0]) for g in groups}) == 4


# --------------------------------------------- answers reveal nothing (oracles)


def _modulo_ids(text: str) -> str:
    return re.sub(r'"(case_id|id)":\s*\d+', r'"\1":0', text)


def test_case_answers_are_the_same_for_unknown_grouped_and_listed_values(live_hub) -> None:
    a, b, prober = (live_hub.new_member() for _ in range(3))
    shared, other, _ = listed_group(live_hub, a, b)
    second_shared, _, _ = listed_group(live_hub, a, b)
    unknown = signed(live_hub, prober, "POST", "/v1/cases", case([("phone", hv()),
                                                                   ("id_number", hv())]))
    one_group = signed(live_hub, prober, "POST", "/v1/cases", case([shared, ("phone", hv())]))
    two_groups = signed(live_hub, prober, "POST", "/v1/cases", case([other, second_shared]))
    answers = [unknown, one_group, two_groups]
    assert [r.status_code for r in answers] == [201] * 3
    assert len({_modulo_ids(r.text) for r in answers}) == 1, [r.text for r in answers]


def test_dispute_answers_are_the_same_for_unknown_listed_and_disputed_values(live_hub) -> None:
    a, b, prober = (live_hub.new_member() for _ in range(3))
    shared, _, _ = listed_group(live_hub, a, b)
    disputed = ("id_number", hv())
    submit(live_hub, a, [disputed, ("phone", hv())])
    reason = "this is the number of our own customer-service desk"
    first = signed(live_hub, b, "POST", "/v1/disputes",
                   {"kind": disputed[0], "value": disputed[1], "reason": reason})
    assert first.status_code == 202, first.text
    answers = [
        signed(live_hub, prober, "POST", "/v1/disputes",
               {"kind": kind, "value": value, "reason": reason})
        for kind, value in (("id_number", hv()), shared, disputed)
    ]
    assert [r.status_code for r in answers] == [202] * 3, [r.text for r in answers]

    def shape(r: Any) -> str:
        body = r.json()
        return _modulo_ids(r.text).replace(body["value"], "V").replace(body["created_at"], "T")

    assert len({shape(r) for r in answers}) == 1, [r.text for r in answers]
    # The association still sees each of them (the duplicate waits as pending).
    states = {d["id"]: d["state"]
              for d in live_hub.admin("GET", "/v1/admin/disputes").json()["items"]}
    assert states[answers[2].json()["id"]] == "pending"
    assert states[answers[0].json()["id"]] == "open"
    # Nor does the prober's own dispute list tell the pending one from the others.
    own = signed(live_hub, prober, "GET", "/v1/disputes").json()["items"]
    assert sorted(d["state"] for d in own) == ["received"] * 3, own
    for state in ("open", "pending"):
        refused = signed(live_hub, prober, "GET", f"/v1/disputes?state={state}")
        assert refused.status_code == 422 and "state" in refused.text, refused.text


# ------------------------------------------------------------- corrections


def test_a_member_retracts_its_case_and_the_group_leaves_the_feed(live_hub) -> None:
    b, c = bank(live_hub), bank(live_hub)
    reader = live_hub.new_member()
    raw = raw_id_number()
    b.report_case([("id_number", raw), ("phone", raw_phone())])
    mine = c.report_case([("id_number", raw), ("phone", raw_phone())])
    label = label_of(live_hub, "id_number", hashed(b, "id_number", raw))
    assert set(published(live_hub, reader)) == {label}

    # Another member's case id answers like one that does not exist.
    stranger = signed(live_hub, reader, "POST", f"/v1/cases/{mine['case_id']}/retract")
    missing = signed(live_hub, reader, "POST", f"/v1/cases/{mine['case_id'] + 10_000}/retract")
    assert stranger.status_code == missing.status_code == 404
    assert re.sub(r"\d+", "N", stranger.text) == re.sub(r"\d+", "N", missing.text)

    assert c.retract_case(mine["case_id"]) == {"case_id": mine["case_id"], "state": "retracted"}
    assert published(live_hub, reader) == {}


def test_cases_expire_at_the_next_build(live_hub) -> None:
    a, b, reader = (live_hub.new_member() for _ in range(3))
    shared, _, label = listed_group(live_hub, a, b)
    assert set(published(live_hub, reader)) == {label}
    later = utcnow() + timedelta(days=181)  # LIANFANG_CASE_TTL_DAYS = 180 after observed_at
    build_feeds(live_hub.app, now=later)
    assert feed_records(live_hub, reader, "complaint-groups")[1] == []
    assert label_of(live_hub, *shared) is None


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_suspended_or_revoked_members_cases_stop_corroborating(live_hub, action) -> None:
    a, b, reader = (live_hub.new_member() for _ in range(3))
    _, _, label = listed_group(live_hub, a, b)
    assert set(published(live_hub, reader)) == {label}
    out = live_hub.admin("POST", f"/v1/admin/members/{b[0]}/{action}",
                         json={"reason": "fabricated complaint cases"})
    assert out.status_code == 200, out.text
    assert published(live_hub, reader) == {}
    if action == "suspend":
        back = live_hub.admin("POST", f"/v1/admin/members/{b[0]}/reinstate", json={})
        assert back.status_code == 200, back.text
        assert len(published(live_hub, reader)) == 1


def _audit(hub, action: str) -> list[dict]:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return [
            json.loads(e.details)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        ]


def test_admin_removes_an_indicator_from_a_group(live_hub) -> None:
    a, b, reader = (live_hub.new_member() for _ in range(3))
    hotline, extra = ("phone", hv()), ("id_number", hv())
    submit(live_hub, a, [hotline, extra])
    submit(live_hub, b, [hotline, extra])
    label = label_of(live_hub, *hotline)
    path = f"/v1/admin/groups/{label}/remove-indicator"
    refused = live_hub.admin("POST", path, {"kind": "phone", "value": hotline[1]})
    assert refused.status_code == 422 and "reason" in refused.json()["error"]["fields"]
    stranger = live_hub.admin("POST", path, {"kind": "phone", "value": hv(), "reason": "x" * 5})
    assert stranger.status_code == 422 and "value" in stranger.json()["error"]["fields"]
    out = live_hub.admin("POST", path, {**dict(zip(("kind", "value"), hotline, strict=True)),
                                        "reason": "our own bank's hotline"})
    assert out.status_code == 200, out.text
    assert hotline[1] not in str(published(live_hub, reader))
    assert label_of(live_hub, *hotline) is None
    # It never links again, even through new cases.
    submit(live_hub, a, [hotline, ("device", hv())])
    assert label_of(live_hub, *hotline) is None
    assert _audit(live_hub, "groups.remove_indicator")[0]["reason"] == "our own bank's hotline"


def test_admin_splits_a_group_and_the_sides_stay_apart(live_hub) -> None:
    a, b, reader = (live_hub.new_member() for _ in range(3))
    x, y, z = ("phone", hv()), ("phone", hv()), ("id_number", hv())
    for member in (a, b):
        submit(live_hub, member, [x, y, z])
    label = label_of(live_hub, *x)
    out = live_hub.admin("POST", f"/v1/admin/groups/{label}/split", {
        "indicators": [{"kind": z[0], "value": z[1]}], "reason": "two unrelated rings",
    })
    assert out.status_code == 200, out.text
    assert label_of(live_hub, *x) == label_of(live_hub, *y) == label
    assert label_of(live_hub, *z) is None  # alone on its side: no group of one
    submit(live_hub, a, [x, z])  # a new case across the split links nothing across it
    assert label_of(live_hub, *z) is None
    records = published(live_hub, reader)
    assert set(records) == {label} and z[1] not in str(records)
    assert _audit(live_hub, "groups.split")[0]["reason"] == "two unrelated rings"


def test_admin_dismisses_a_group_and_the_feed_drops_it(live_hub) -> None:
    a, b, reader = (live_hub.new_member() for _ in range(3))
    shared, _, label = listed_group(live_hub, a, b)
    assert set(published(live_hub, reader)) == {label}
    out = live_hub.admin("POST", f"/v1/admin/groups/{label}/dismiss",
                         {"reason": "genuine consumer complaints"})
    assert out.status_code == 200, out.text
    assert out.json()["cases_dismissed"] == 2
    assert published(live_hub, reader) == {}
    missing = live_hub.admin("POST", "/v1/admin/groups/g-0000000000000000/dismiss",
                             {"reason": "nothing"})
    assert missing.status_code == 404
    assert _audit(live_hub, "groups.dismiss")[0]["reason"] == "genuine consumer complaints"


# ----------------------------------------------------------------- cost


def _statements_for(hub, member, body: dict) -> int:
    engine = get_db(hub.app).engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args: object) -> None:
        # Only the request's own statements: the merge consumer polls in its own thread.
        if "process_request" in threading.current_thread().name:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        out = signed(hub, member, "POST", "/v1/cases", body)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert out.status_code == 201, out.text
    return len(seen)


def test_a_case_costs_the_same_against_a_5000_member_group_as_a_5_member_one(live_hub) -> None:
    builder, prober = live_hub.new_member(), live_hub.new_member()
    big = [("device", hv()) for _ in range(5000)]
    for start in range(0, 5000, 499):
        chunk = big[start:start + 499]
        anchor = [big[start - 1]] if start else []
        submit(live_hub, builder, anchor + chunk)
    small = [("device", hv()) for _ in range(5)]
    submit(live_hub, builder, small)
    label = label_of(live_hub, *big[0])
    assert label_of(live_hub, *big[-1]) == label
    assert [g["size"] for g in live_hub.admin("GET", "/v1/admin/groups").json()["items"]] == [
        5000, 5,
    ]
    # Warm up (prepared statements, caches), then measure one case against each group.
    _statements_for(live_hub, prober, case([("device", hv()), ("device", hv())]))
    against_big = _statements_for(live_hub, prober, case([big[7], ("device", hv())]))
    against_small = _statements_for(live_hub, prober, case([small[2], ("device", hv())]))
    assert against_small > 0 and against_big == against_small, (against_big, against_small)
