"""Service numbers, 400/800 numbers and landlines with extensions, end to end (issue 16).

A real hub over HTTP, real `MemberClient`s reporting the numbers as their staff
typed them, a real `FeedClient` synced from the hub and a `CallScreener` answering
as the caller ID spells the number. The canonical forms (docs/FORMATS.md
"Canonical forms") must make every spelling of one number the same entry.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub.feeds.builder import build_feeds

NIGHT = datetime(2026, 11, 25, 23, 30)
DAY = datetime(2026, 11, 25, 10, 0)


def member(live_hub: Any) -> MemberClient:
    member_id, key = live_hub.new_member()
    return MemberClient(live_hub.url, key, member_id)


def synced_screener(
    live_hub: Any, root_key: str, tmp_path: Path, bank: MemberClient
) -> CallScreener:
    build_feeds(live_hub.app)
    feeds = FeedClient(live_hub.url, root_key, tmp_path / "s", token=bank.mint_reader_token())
    assert all(r.ok for r in feeds.sync().values())
    return CallScreener(feeds, quiet_hours=("22:00", "08:00"))


def test_numbers_screen_the_same_whatever_the_spelling(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    a, b, fraudster, other = (member(live_hub) for _ in range(4))
    # The admin allowlists ICBC's hotline as the console's placeholder suggests,
    # and a bank's switchboard landline with its area code in a spaced spelling.
    for raw, note in (("95588", "ICBC customer service"), ("0755 8888 8888", "switchboard")):
        added = live_hub.admin("POST", "/v1/admin/allowlist",
                               json={"raw_number": raw, "note": note})
        assert added.status_code == 201, added.text
    # Two fraudster-controlled members report the hotline as fraud in other spellings:
    # the allowlist beats their block.
    for rogue, spelling in ((fraudster, "９５５８８"), (other, "+86 95588")):
        assert rogue.report("phone", [spelling], "fraud", 95).accepted == 1
    # A 400 number and an extension reported by two banks, each in its own spelling.
    assert a.report("phone", ["4008-123-456", "010-12345678 转 123"], "fraud", 95).accepted == 2
    assert b.report("phone", ["400 812 3456", "010-12345678#123"], "fraud", 95).accepted == 2
    # An 800 number and a 106 SMS sender code reported by one bank only: warn, not block.
    assert a.report("phone", ["800-123-4567", "106912345678"], "fraud", 95).accepted == 2
    screener = synced_screener(live_hub, root_key, tmp_path, a)

    for spelling in ("95588", "９５５８８", "+86 95588", "+8695588"):
        verdict = screener.check(spelling, at=NIGHT)  # allowlisted: never silenced at night
        assert (verdict.action, verdict.reasons) == ("allow", ("consortium_allowlist",)), spelling
    for spelling in ("+86 755 8888 8888", "075588888888", "+8675588888888"):
        assert screener.check(spelling, at=NIGHT).reasons == ("consortium_allowlist",), spelling
    for spelling in ("4008123456", "+86 400-812-3456", "008640081234 56"):
        assert screener.check(spelling, at=DAY).action == "block", spelling
    for spelling in ("010 12345678 x123", "+86 10 1234 5678 ext. 123", "01012345678,123",
                     "010-12345678 分机 123"):
        assert screener.check(spelling, at=DAY).action == "block", spelling
    # An extension is its own entry (docs/FORMATS.md): the main line and another
    # extension of the same switchboard are not blocked by a report on extension 123.
    for spelling in ("010-12345678", "010-12345678 转 124"):
        verdict = screener.check(spelling, at=DAY)
        assert (verdict.action, verdict.reasons) == ("allow", ("no_match",)), spelling
    for spelling in ("8001234567", "+86 800 123 4567", "106912345678"):
        assert screener.check(spelling, at=DAY).action == "warn", spelling
    # An unknown short code has no canonical form: never hashed, never matched.
    assert screener.check("99999", at=DAY).reasons == ("unparseable_number",)
    # A short service code that nobody listed is an ordinary unknown caller.
    assert screener.check("10086", at=DAY).reasons == ("no_match",)
    assert screener.check("10086", at=NIGHT).action == "silence"


def test_a_short_code_with_an_extension_is_refused_by_hub_and_sdk(live_hub: Any) -> None:
    refused = live_hub.admin("POST", "/v1/admin/allowlist", json={"raw_number": "95588 转 1"})
    assert refused.status_code == 422 and "raw_number" in refused.json()["error"]["fields"]
    assert "95588" not in refused.text


def test_a_users_feedback_overrides_the_feeds_and_the_app_can_forward_it(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    a, b = member(live_hub), member(live_hub)
    for bank in (a, b):
        assert bank.report("phone", ["4008-123-456"], "fraud", 95).accepted == 1
    screener = synced_screener(live_hub, root_key, tmp_path, a)
    assert screener.check("4008123456", at=DAY).action == "block"
    # The user knows this 400 line (their own courier, say) and a spammy SMS sender.
    screener.mark("+86 400 812 3456", "not_spam")
    screener.mark("1069 1234 5678", "spam")
    assert screener.check("400-812-3456", at=DAY).reasons == ("user_not_spam",)
    assert screener.check("106912345678", at=NIGHT).reasons == ("user_spam",)
    # The member's app forwards the user's feedback as reports, in canonical form.
    category = {"spam": "fraud", "not_spam": "legit"}
    for number, label in screener.feedback.items():
        assert a.report("phone", [number], category[label], 60).accepted == 1
    mine = {r["category"] for r in a.reports()}
    assert mine == {"fraud", "legit"}
    # Another user of the same feeds is unaffected by this user's marks.
    other = synced_screener(live_hub, root_key, tmp_path / "other", b)
    assert other.check("4008123456", at=DAY).action == "block"
