"""Disputes over real HTTP: hold out of block, uphold, delist lowers weight and overturns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db import get_db
from hub.feeds.builder import build_feeds
from hub.models.report import MemberStanding, Report
from tests.hub.reports_support import hv, journal, journal_head, listing, rep, report, signed

REASON = "This is our customer-service hotline, verified by contract."


def dispute(hub, member, value: str) -> dict:
    out = signed(hub, member, "POST", "/v1/disputes",
                 {"kind": "phone", "value": value, "reason": REASON})
    assert out.status_code == 202, out.text
    return out.json()


def resolve(hub, dispute_id: int, resolution: str):
    return hub.admin("POST", f"/v1/admin/disputes/{dispute_id}/resolve",
                     {"resolution": resolution, "reason": "checked with the carrier"})


def test_dispute_holds_then_delist_overturns_and_lowers_weight(live_hub) -> None:
    a, b, c = live_hub.new_member(), live_hub.new_member(), live_hub.new_member()
    disputed, other = hv(), hv()
    report(live_hub, a, [rep(disputed), rep(other)])
    report(live_hub, b, [rep(disputed), rep(other)])
    assert listing(live_hub, c, other)["tier"] == "block"  # 1 - 0.1^2 = 0.99

    head = journal_head(live_hub)
    opened = dispute(live_hub, c, disputed)
    held = listing(live_hub, c, disputed)
    assert held["held"] is True and held["tier"] == "warn"
    assert journal(live_hub, head) == [
        ("phone-block", disputed, "remove"),
        ("phone-warn", disputed, "add"),
    ]
    again = signed(live_hub, c, "POST", "/v1/disputes",
                   {"kind": "phone", "value": disputed, "reason": REASON})
    # A second dispute on the same listing is received like any other (a 409 would
    # tell which values other banks dispute) and waits for the admin as `pending`.
    assert again.status_code == 202, again.text

    open_list = live_hub.admin("GET", "/v1/admin/disputes?state=open").json()["items"]
    assert [d["id"] for d in open_list] == [opened["id"]]
    # Admins see which institution opened it (issue 13: disputes are accountable).
    assert open_list[0]["opened_by"] == "member" and open_list[0]["opened_by_member"] == c[0]

    head = journal_head(live_hub)
    out = resolve(live_hub, opened["id"], "delist")
    assert out.status_code == 200, out.text
    assert out.json()["state"] == "delisted"
    gone = listing(live_hub, c, disputed)
    assert gone["tier"] == "none" and gone["held"] is False and gone["reporter_count"] == 0
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        states = set(session.scalars(select(Report.state).where(
            Report.indicator_id.in_(select(Report.indicator_id).where(Report.state == "overturned"))
        )))
        assert states == {"overturned"}
        weights = {s.member_id: s.weight for s in session.scalars(select(MemberStanding))}
        assert weights == {a[0]: 0.5, b[0]: 0.5}
    # Lower weight everywhere: the other number drops from block (0.99) to warn (0.6975),
    # re-merged by the next build's `remerge_due` (marked due, not recomputed inline).
    assert listing(live_hub, c, other)["tier"] == "block"
    build_feeds(live_hub.app)
    lowered = listing(live_hub, c, other)
    assert lowered["tier"] == "warn"
    assert lowered["score"] == pytest.approx(1 - 0.55 ** 2)
    assert ("phone-warn", disputed, "remove") in journal(live_hub, head)
    assert ("phone-block", other, "remove") in journal(live_hub, head)

    # An overturned report cannot be re-listed by re-sending it.
    resent = report(live_hub, a, [rep(disputed)])
    assert resent.status_code == 422
    assert "overturned" in str(resent.json()["errors"][0]["fields"]["value"])
    assert resolve(live_hub, opened["id"], "uphold").status_code == 409


def test_upheld_dispute_returns_to_block(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value = hv()
    report(live_hub, a, [rep(value)])
    report(live_hub, b, [rep(value)])
    opened = live_hub.admin("POST", "/v1/admin/disputes",
                            {"kind": "phone", "value": value, "reason": REASON})
    assert opened.status_code == 201, opened.text
    assert listing(live_hub, a, value)["tier"] == "warn"
    out = resolve(live_hub, opened.json()["id"], "uphold")
    assert out.status_code == 200 and out.json()["state"] == "upheld"
    assert listing(live_hub, a, value)["tier"] == "block"


@pytest.mark.parametrize(
    ("field", "bad"),
    [("kind", "fax"), ("value", "+8613800138000"), ("reason", "short"), ("reason", "x" * 2001)],
)
def test_malformed_dispute_fields(live_hub, field: str, bad: object) -> None:
    a = live_hub.new_member()
    body = {"kind": "phone", "value": hv(), "reason": REASON, field: bad}
    out = signed(live_hub, a, "POST", "/v1/disputes", body)
    assert out.status_code == 422, out.text
    assert field in out.json()["error"]["fields"]


def test_dispute_of_unknown_and_bad_resolution(live_hub) -> None:
    a = live_hub.new_member()
    out = signed(live_hub, a, "POST", "/v1/disputes",
                 {"kind": "phone", "value": hv(), "reason": REASON})
    assert out.status_code == 202  # unknown values answer like known ones (no oracle)
    assert resolve(live_hub, 999, "delist").status_code == 404
    bad = live_hub.admin("POST", "/v1/admin/disputes/1/resolve", {"resolution": "maybe"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"resolution", "reason"}
    assert signed(live_hub, a, "GET", "/v1/admin/disputes").status_code in (401, 403)
