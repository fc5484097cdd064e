"""Complaint cases over real HTTP: union-find groups, listing at 2 members, journal."""

from __future__ import annotations

import pytest

from hub.db import get_db
from hub.services.groups import group_record
from tests.hub.reports_support import hv, journal, journal_head, signed

OBSERVED = "2026-01-05T10:00:00Z"


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


def record(hub, label: str) -> dict | None:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return group_record(session, label)


def test_cases_at_two_members_form_one_listed_group(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    phone, text, device = ("phone", hv()), ("complaint_text", hv()[:16]), ("device", hv())
    head = journal_head(live_hub)
    first = submit(live_hub, a, [phone, text], case_ref="A-1")
    assert first["listed"] is False
    assert record(live_hub, first["group_id"]) is None
    assert journal(live_hub, head) == []

    second = submit(live_hub, b, [text, device])
    assert second["group_id"] == first["group_id"]
    assert second["listed"] is True
    rec = record(live_hub, second["group_id"])
    assert rec is not None
    assert rec["action"] == "review"
    assert rec["member_count"] == 2
    assert rec["categories"] == ["malicious_complaint"]
    assert rec["first_seen"] == OBSERVED
    # Only the indicator both members' cases contain is published (phone and device
    # are vouched for by one member each: groups.py `_corroborated`).
    assert rec["indicators"] == [{"kind": text[0], "value": text[1]}]
    assert a[0] not in str(rec) and b[0] not in str(rec)
    assert journal(live_hub, head) == [("complaint-groups", first["group_id"], "upsert")]

    head = journal_head(live_hub)
    submit(live_hub, b, [text, device])  # nothing new: record unchanged
    assert journal(live_hub, head) == []


def test_case_linking_two_groups_merges_them(live_hub) -> None:
    a, b, c = live_hub.new_member(), live_hub.new_member(), live_hub.new_member()
    d, e, f, g, h = (("phone", hv()) for _ in range(5))
    left = submit(live_hub, a, [d, e, h])  # bigger group survives
    right = submit(live_hub, b, [f, g])
    assert left["group_id"] != right["group_id"]
    head = journal_head(live_hub)
    bridge = submit(live_hub, c, [e, f])
    assert bridge["group_id"] == left["group_id"]
    assert record(live_hub, right["group_id"]) is None
    rec = record(live_hub, left["group_id"])
    assert rec is not None and rec["member_count"] == 3
    # e (a, c) and f (b, c) are corroborated; d, g, h are one member's word only.
    assert rec["indicators"] == sorted(
        [{"kind": k, "value": v} for k, v in (e, f)], key=lambda i: (i["kind"], i["value"])
    )
    assert journal(live_hub, head) == [("complaint-groups", left["group_id"], "upsert")]

    groups = live_hub.admin("GET", "/v1/admin/groups").json()["items"]
    labels = {grp["group_id"]: grp for grp in groups}
    assert right["group_id"] not in labels
    assert labels[left["group_id"]]["size"] == 5 and labels[left["group_id"]]["listed"]


def test_merging_two_listed_groups_removes_the_absorbed_one(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    p = [("phone", hv()) for _ in range(5)]
    g1 = submit(live_hub, a, [p[0], p[1], p[4]])
    submit(live_hub, b, [p[1], p[4]])
    g2 = submit(live_hub, a, [p[2], p[3]])
    submit(live_hub, b, [p[3], p[2]])
    head = journal_head(live_hub)
    merged = submit(live_hub, a, [p[0], p[2]])
    assert merged["group_id"] == g1["group_id"]
    assert journal(live_hub, head) == [
        ("complaint-groups", g2["group_id"], "remove"),
        ("complaint-groups", g1["group_id"], "upsert"),
    ]


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


def test_concurrent_cases_chain_into_one_group(live_hub) -> None:
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
    assert [(g["size"], g["member_count"]) for g in groups] == [(5, 4)]
    label = groups[0]["group_id"]
    rec = record(live_hub, label)
    assert rec is not None and len(rec["indicators"]) == 3  # the chain's inner links
    # The journal ends with this group listed and every absorbed group removed.
    listed: set[str] = set()
    for _, value, op in journal(live_hub):
        if op == "upsert":
            listed.add(value)
        else:
            listed.discard(value)
    assert listed == {label}
