"""Reports and cases over real HTTP end up, signed and verifiable, in the feeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.db import get_db
from hub.feeds.builder import build_feeds
from hub.services.groups import group_record
from schemas.timefmt import format_time, utcnow
from tests.hub.groups_support import feed_records, fetch_ok, label_of
from tests.hub.reports_support import hv, rep, report, signed

OBSERVED = format_time(utcnow() - timedelta(days=1))


def _case(indicators: list[tuple[str, str]]) -> dict[str, Any]:
    return {"indicators": [{"kind": k, "value": v} for k, v in indicators],
            "key_epoch": 1, "observed_at": OBSERVED}


def test_consensus_phone_and_complaint_group_reach_the_feeds(live_hub: Any) -> None:
    build_feeds(live_hub.app)
    a, b, c = live_hub.new_member(), live_hub.new_member(), live_hub.new_member()
    phone = hv()
    for member in (a, b):
        assert report(live_hub, member, [rep(phone, confidence=95)]).status_code in (200, 201)
    text, device = ("complaint_text", hv()[:16]), ("device", hv())
    first = signed(live_hub, a, "POST", "/v1/cases", _case([("phone", hv()), text]))
    assert first.status_code == 201, first.text
    second = signed(live_hub, b, "POST", "/v1/cases", _case([text, device]))
    assert second.status_code == 201, second.text
    group_id = label_of(live_hub, *text)

    result = build_feeds(live_hub.app)
    assert result.published.get("phone-block") == 2
    assert result.published.get("complaint-groups") == 2
    block = fetch_ok(live_hub, a, "/v1/feeds/phone-block/manifest.json").json()["signed"]
    assert block["entry_count"] == 1
    manifest, records = feed_records(live_hub, a, "complaint-groups")
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        assert records == [group_record(session, group_id)]
    assert records[0]["member_count"] == 2

    # a third member joins the group: the record changes (remove + add), v3
    third = signed(live_hub, c, "POST", "/v1/cases", _case([device, ("device", hv())]))
    assert third.status_code == 201, third.text
    assert build_feeds(live_hub.app).published.get("complaint-groups") == 3
    manifest3, records3 = feed_records(live_hub, a, "complaint-groups")
    assert manifest3["version"] == 3 and len(records3) == 1
    assert records3[0]["member_count"] == 3
