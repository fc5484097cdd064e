"""CallScreener on a real FeedClient synced from the real hub (reports by MemberClient)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from client_sdk.feed_client import FeedClient
from client_sdk.hashing import hash_indicator
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub.feeds.builder import build_feeds
from schemas.timefmt import utcnow

FRAUD = ["13812345678", "+86 139 8765 4321"]
SINGLE = "13711112222"
OFFICIAL = "+86 10 9558 8000"
CONTACT = "13655556666"


def member(live_hub: Any) -> MemberClient:
    member_id, key = live_hub.new_member()
    return MemberClient(live_hub.url, key, member_id)


def test_screening_on_verified_hub_feeds(live_hub: Any, root_key: str, tmp_path: Path) -> None:
    a, b = member(live_hub), member(live_hub)
    assert a.report("phone", [*FRAUD, SINGLE], "fraud", 95).accepted == 3
    assert b.report("phone", [*FRAUD, CONTACT, OFFICIAL], "fraud", 95).accepted == 4
    for bank in (a, b):
        assert bank.report("phone", [OFFICIAL], "legit", 90).accepted == 1
    build_feeds(live_hub.app)

    feeds = FeedClient(live_hub.url, root_key, tmp_path / "s", token=a.mint_reader_token())
    assert all(r.ok for r in feeds.sync().values())
    screener = CallScreener(feeds, contacts=[CONTACT], quiet_hours=("22:00", "08:00"))
    day, night = datetime(2026, 11, 25, 10, 0), datetime(2026, 11, 25, 23, 30)

    for number in FRAUD:
        verdict = screener.check(number, at=night)
        assert verdict.action == "block" and verdict.reasons == ("consortium_block",)
        assert not verdict.stale
        assert set(verdict.feed_version) == {"phone-allow", "phone-block", "phone-warn"}
    assert screener.check(SINGLE, at=day).action == "warn"  # one member cannot block alone
    # Two legit votes against a fraud report are a conflict for an admin (issue 13),
    # not an automatic allowlist: the number stays at warn until an admin decides.
    assert screener.check(OFFICIAL, at=night).reasons == ("consortium_warn",)
    official = hash_indicator("phone", OFFICIAL, a.consortium_key("phone")[1])
    decided = live_hub.admin("POST", f"/v1/admin/allowlist-conflicts/phone/{official}",
                             json={"decision": "allow", "note": "the bank's hotline"})
    assert decided.status_code == 200, decided.text
    build_feeds(live_hub.app)
    assert all(r.ok for r in feeds.sync().values())
    assert screener.check(OFFICIAL, at=night).reasons == ("consortium_allowlist",)
    assert screener.check(CONTACT, at=night).reasons == ("contact",)
    assert screener.check("13500009999", at=day).action == "allow"
    assert screener.check("13500009999", at=night).action == "silence"

    # Past the manifests' expiry without a sync, verdicts still come but say stale.
    with time_machine.travel(utcnow() + timedelta(days=400), tick=False):
        verdict = screener.check(FRAUD[0], at=day)
    assert verdict.action == "block" and verdict.stale and "stale_data" in verdict.reasons


def test_before_first_sync_nothing_is_blocked_and_it_says_so(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    feeds = FeedClient(live_hub.url, root_key, tmp_path / "s", token="unused")
    verdict = CallScreener(feeds).check(FRAUD[0])
    assert verdict.action == "allow" and verdict.stale
    assert "no_data" in verdict.reasons and "no_consortium_key" in verdict.reasons
