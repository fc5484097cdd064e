"""CallScreener over real hashed feed data (docs/ARCHITECTURE.md §6 screening order)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from client_sdk.feed_client import FeedView
from client_sdk.screener import CallScreener, Verdict
from schemas.indicators import InvalidIndicator, hash_indicator
from schemas.manifest import phone_key

KEY1 = secrets.token_bytes(32)
KEY2 = secrets.token_bytes(32)
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)

CONTACT = "13800138000"
ALLOWED = "13900139000"
BLOCKED = "13700137000"
WARNED = "13600136000"
BLOCKED_AND_ALLOWED = "13500135000"
UNKNOWN = "13300133000"
LANDLINE_BLOCKED = "010-6552-9988"


def key64(raw: str, key: bytes = KEY1) -> int:
    return phone_key(hash_indicator("phone", raw, key))


def feed_view(feed: str, keys: Iterable[int], version: int = 1, stale: bool = False) -> FeedView:
    array = np.array(sorted(set(keys)), dtype=np.uint64)
    return FeedView(feed, version, array, (), stale, EXPIRES)


class StaticFeeds:
    """The reader side of FeedClient over fixed, real hashed data."""

    def __init__(
        self,
        views: Mapping[str, FeedView | None],
        hash_keys: list[tuple[int, bytes]] | None = None,
    ) -> None:
        self.views = dict(views)
        self.keys = [(1, KEY1)] if hash_keys is None else hash_keys

    def view(self, feed: str) -> FeedView | None:
        return self.views.get(feed)

    def hash_keys(self) -> list[tuple[int, bytes]]:
        return list(self.keys)


def standard_feeds() -> StaticFeeds:
    return StaticFeeds(
        {
            "phone-allow": feed_view(
                "phone-allow", [key64(ALLOWED), key64(BLOCKED_AND_ALLOWED)], 3
            ),
            "phone-block": feed_view(
                "phone-block",
                [key64(n) for n in (BLOCKED, BLOCKED_AND_ALLOWED, CONTACT, LANDLINE_BLOCKED)],
                7,
            ),
            "phone-warn": feed_view("phone-warn", [key64(WARNED)], 2),
        }
    )


@pytest.fixture
def screener() -> CallScreener:
    return CallScreener(standard_feeds(), contacts=[CONTACT])


def test_each_branch_of_the_order(screener: CallScreener) -> None:
    versions = {"phone-allow": 3, "phone-block": 7, "phone-warn": 2}
    assert screener.check(CONTACT) == Verdict("allow", ("contact",), (), None, False)
    assert screener.check(ALLOWED) == Verdict(
        "allow", ("consortium_allowlist",), (), versions, False
    )
    assert screener.check(BLOCKED) == Verdict("block", ("consortium_block",), (), versions, False)
    assert screener.check(WARNED) == Verdict("warn", ("consortium_warn",), (), versions, False)
    assert screener.check(UNKNOWN) == Verdict("allow", ("no_match",), (), versions, False)


def test_allowlist_beats_block_and_contacts_beat_everything(screener: CallScreener) -> None:
    assert screener.check(BLOCKED_AND_ALLOWED).action == "allow"
    assert screener.check(CONTACT).action == "allow"  # CONTACT is also in the block feed


@pytest.mark.parametrize(
    "shown",
    ["13700137000", "+8613700137000", "008613700137000", "+86 137 0013 7000", "137-0013-7000"],
)
def test_number_formats_match_the_same_listing(screener: CallScreener, shown: str) -> None:
    assert screener.check(shown).action == "block"


def test_landline_goes_through_full_normalisation(screener: CallScreener) -> None:
    assert screener.check("+86 10 6552 9988").action == "block"
    assert screener.check("01065529988").action == "block"


def test_contacts_in_any_format_and_bad_contacts_are_skipped() -> None:
    s = CallScreener(standard_feeds(), contacts=["+86 137 0013 7000", "not a number", "", "10"])
    assert s.check(BLOCKED).reasons == ("contact",)
    assert s.skipped_contacts == 3
    assert s.contacts == frozenset({"+8613700137000"})


@pytest.mark.parametrize("junk", ["", "hello", "12", "+", "☎☎☎", "1" * 40, None, 13700137000])
def test_unparseable_numbers_never_raise(screener: CallScreener, junk: object) -> None:
    verdict = screener.check(junk)  # type: ignore[arg-type]
    assert verdict == Verdict("allow", ("unparseable_number",), (), None, False)


def test_unparseable_numbers_are_silenced_in_quiet_hours() -> None:
    s = CallScreener(standard_feeds(), quiet_hours=("22:00", "08:00"))
    night = datetime(2026, 11, 24, 23, 30)
    assert s.check("garbage", at=night) == Verdict(
        "silence", ("unparseable_number", "quiet_hours"), (), None, False
    )


@pytest.mark.parametrize(
    ("local", "action"),
    [
        ("21:59", "allow"),
        ("22:00", "silence"),
        ("23:59", "silence"),
        ("00:00", "silence"),
        ("03:15", "silence"),
        ("07:59", "silence"),
        ("08:00", "allow"),
        ("12:00", "allow"),
    ],
)
def test_quiet_hours_across_midnight(local: str, action: str) -> None:
    s = CallScreener(standard_feeds(), contacts=[CONTACT], quiet_hours=("22:00", "08:00"))
    hour, minute = map(int, local.split(":"))
    at = datetime(2026, 11, 24, hour, minute)
    verdict = s.check(UNKNOWN, at=at)
    assert verdict.action == action
    assert ("quiet_hours" in verdict.reasons) == (action == "silence")
    # Known callers are decided before quiet hours.
    assert s.check(CONTACT, at=at).action == "allow"
    assert s.check(ALLOWED, at=at).action == "allow"
    assert s.check(BLOCKED, at=at).action == "block"
    assert s.check(WARNED, at=at).action == "warn"


def test_quiet_hours_use_the_screener_timezone_for_aware_times() -> None:
    s = CallScreener(standard_feeds(), quiet_hours=("22:00", "08:00"))
    # 15:30 UTC is 23:30 in Shanghai; 02:00 UTC is 10:00 there.
    assert s.check(UNKNOWN, at=datetime(2026, 11, 24, 15, 30, tzinfo=UTC)).action == "silence"
    assert s.check(UNKNOWN, at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC)).action == "allow"
    berlin = CallScreener(
        standard_feeds(), quiet_hours=("22:00", "08:00"), timezone="Europe/Berlin"
    )
    assert berlin.check(UNKNOWN, at=datetime(2026, 11, 24, 15, 30, tzinfo=UTC)).action == "allow"


def test_quiet_hours_default_to_now() -> None:
    import time_machine

    s = CallScreener(standard_feeds(), quiet_hours=("22:00", "08:00"))
    with time_machine.travel(datetime(2026, 11, 24, 16, 0, tzinfo=UTC), tick=False):
        assert s.check(UNKNOWN).action == "silence"  # midnight in Shanghai
    with time_machine.travel(datetime(2026, 11, 24, 4, 0, tzinfo=UTC), tick=False):
        assert s.check(UNKNOWN).action == "allow"


def test_daytime_window_and_bad_windows() -> None:
    s = CallScreener(standard_feeds(), quiet_hours=("12:00", "14:00"))
    assert s.check(UNKNOWN, at=datetime(2026, 1, 1, 13, 0)).action == "silence"
    assert s.check(UNKNOWN, at=datetime(2026, 1, 1, 14, 0)).action == "allow"
    assert s.check(UNKNOWN, at=datetime(2026, 1, 1, 23, 0)).action == "allow"
    with pytest.raises(ValueError):
        CallScreener(standard_feeds(), quiet_hours=("08:00", "08:00"))
    with pytest.raises(ValueError):
        CallScreener(standard_feeds(), quiet_hours=("25:00", "08:00"))


def test_missing_feed_is_stale_but_other_feeds_still_answer() -> None:
    feeds = standard_feeds()
    feeds.views["phone-warn"] = None
    s = CallScreener(feeds)
    blocked = s.check(BLOCKED)
    assert blocked.action == "block" and blocked.stale
    assert blocked.reasons == ("consortium_block", "no_data")
    assert blocked.feed_version == {"phone-allow": 3, "phone-block": 7}
    assert s.check(WARNED) == Verdict(
        "allow", ("no_match", "no_data"), (), {"phone-allow": 3, "phone-block": 7}, True
    )


def test_stale_feed_marks_the_verdict_and_recovers() -> None:
    feeds = standard_feeds()
    s = CallScreener(feeds)
    assert not s.check(UNKNOWN).stale
    feeds.views["phone-block"] = replace(feeds.views["phone-block"], stale=True)
    verdict = s.check(BLOCKED)
    assert verdict.action == "block" and verdict.stale
    assert verdict.reasons == ("consortium_block", "stale_data")
    feeds.views["phone-block"] = replace(feeds.views["phone-block"], stale=False)
    assert s.check(BLOCKED).reasons == ("consortium_block",)


def test_no_consortium_key_yet_allows_and_says_why() -> None:
    feeds = standard_feeds()
    feeds.keys = []
    verdict = CallScreener(feeds).check(BLOCKED)
    assert verdict.action == "allow" and verdict.stale
    assert verdict.reasons[:2] == ("no_match", "no_consortium_key")


def test_no_feeds_at_all() -> None:
    s = CallScreener(StaticFeeds({}, hash_keys=[]))
    verdict = s.check(BLOCKED)
    assert verdict.action == "allow" and verdict.stale and "no_data" in verdict.reasons


def test_every_listed_epoch_is_checked_and_key_rotation_is_picked_up() -> None:
    feeds = StaticFeeds(
        {
            "phone-allow": feed_view("phone-allow", []),
            "phone-block": feed_view("phone-block", [key64(BLOCKED, KEY1)]),
            "phone-warn": feed_view("phone-warn", [key64(WARNED, KEY2)]),
        },
        hash_keys=[(2, KEY2), (1, KEY1)],
    )
    s = CallScreener(feeds, contacts=[CONTACT])
    assert s.check(BLOCKED).action == "block"
    assert s.check(WARNED).action == "warn"
    feeds.keys = [(2, KEY2)]  # epoch 1 retired and gone from the feeds
    assert s.check(BLOCKED).action == "allow"
    assert s.check(WARNED).action == "warn"
    assert s.check_hashed(key64(CONTACT, KEY2)).reasons == ("contact",)
    assert s.check_hashed(key64(CONTACT, KEY1)).reasons != ("contact",)


def test_new_feed_version_is_used_immediately() -> None:
    feeds = standard_feeds()
    s = CallScreener(feeds)
    assert s.check(UNKNOWN).action == "allow"
    feeds.views["phone-block"] = feed_view("phone-block", [key64(UNKNOWN)], version=8)
    verdict = s.check(UNKNOWN)
    assert verdict.action == "block" and verdict.feed_version["phone-block"] == 8


def test_check_hashed(screener: CallScreener) -> None:
    assert screener.check_hashed(key64(BLOCKED)).action == "block"
    assert screener.check_hashed(key64(WARNED)).action == "warn"
    assert screener.check_hashed(key64(ALLOWED)).action == "allow"
    assert screener.check_hashed(key64(CONTACT)) == Verdict("allow", ("contact",), (), None, False)
    assert screener.check_hashed(0).reasons == ("no_match",)
    assert screener.check_hashed(2**64 - 1).reasons == ("no_match",)


def test_big_endian_and_memory_mapped_arrays(tmp_path: Path) -> None:
    blocked = sorted({key64(BLOCKED), key64(UNKNOWN) ^ 1, 0, 2**64 - 1})
    path = tmp_path / "keys.u64"
    np.array(blocked, dtype="<u8").tofile(path)
    mapped = np.memmap(path, dtype="<u8", mode="r")
    big = np.array(blocked, dtype=">u8")
    for keys in (mapped, big, np.array(blocked, dtype=np.uint64)[::-1][::-1]):
        view = FeedView("phone-block", 1, keys, (), False, EXPIRES)
        s = CallScreener(StaticFeeds({"phone-block": view}))
        assert s.check(BLOCKED).action == "block"
        assert s.check(UNKNOWN).action == "allow"
        assert s.check_hashed(2**64 - 1).action == "block"
        assert s.check_hashed(0).action == "block"
        assert s.check_hashed(1).action == "allow"


def _hashable(raw: str) -> bool:
    try:
        hash_indicator("phone", raw, KEY1)
    except InvalidIndicator:
        return False
    return True


mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True).filter(_hashable)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    number=mobile,
    others=st.lists(mobile, max_size=20),
    in_warn=st.booleans(),
    quiet=st.booleans(),
    hour=st.integers(0, 23),
)
def test_property_listed_in_block_only_is_always_block(
    number: str, others: list[str], in_warn: bool, quiet: bool, hour: int
) -> None:
    assume(number not in others)
    block = [key64(number)] + [key64(o) for o in others]
    warn = [key64(number)] if in_warn else []
    feeds = StaticFeeds(
        {
            "phone-allow": feed_view("phone-allow", [key64(o) for o in others[:3]]),
            "phone-block": feed_view("phone-block", block),
            "phone-warn": feed_view("phone-warn", warn),
        }
    )
    s = CallScreener(
        feeds, contacts=others[3:], quiet_hours=("22:00", "08:00") if quiet else None
    )
    at = datetime(2026, 6, 1, hour, 0)
    assert s.check(number, at=at).action == "block"
    assert s.check("+86" + number, at=at).action == "block"
    assert s.check_hashed(key64(number), at=at).action == "block"


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(number=mobile, lists=st.sets(st.sampled_from(["allow", "block", "warn"])))
def test_property_contacts_always_win(number: str, lists: set[str]) -> None:
    views = {
        f"phone-{name}": feed_view(f"phone-{name}", [key64(number)] if name in lists else [])
        for name in ("allow", "block", "warn")
    }
    s = CallScreener(StaticFeeds(views), contacts=[number], quiet_hours=("00:00", "23:59"))
    at = datetime(2026, 6, 1, 3, 0) + timedelta(minutes=7)
    assert s.check(number, at=at) == Verdict("allow", ("contact",), (), None, False)
    assert s.check(f"+86 {number[:3]} {number[3:7]} {number[7:]}", at=at).action == "allow"


def test_update_contacts_takes_effect_for_raw_and_hashed_checks(screener: CallScreener) -> None:
    assert screener.check(BLOCKED).action == "block"
    assert screener.check_hashed(key64(BLOCKED)).action == "block"
    screener.update_contacts(["+86 137 0013 7000", "bogus"])
    assert screener.check(BLOCKED).reasons == ("contact",)
    assert screener.check_hashed(key64(BLOCKED)).reasons == ("contact",)
    assert screener.skipped_contacts == 1
    # CONTACT is no longer a contact: its block listing now applies.
    assert screener.check(CONTACT).action == "block"
    assert screener.check_hashed(key64(CONTACT)).action == "block"


def test_verdicts_stay_consistent_while_feeds_swap_under_screening_threads() -> None:
    import threading

    feeds = standard_feeds()
    s = CallScreener(feeds)
    in_block = {
        "phone-block": feed_view("phone-block", [key64(UNKNOWN)], version=10),
        "phone-warn": feed_view("phone-warn", [], version=10),
    }
    in_warn = {
        "phone-block": feed_view("phone-block", [], version=11),
        "phone-warn": feed_view("phone-warn", [key64(UNKNOWN)], version=11),
    }
    bad: list[Verdict] = []
    stop = threading.Event()

    def screen() -> None:
        while not stop.is_set():
            v = s.check(UNKNOWN)
            versions = v.feed_version
            if v.action == "block" and versions["phone-block"] != 10:
                bad.append(v)
            if v.action == "warn" and versions["phone-warn"] != 11:
                bad.append(v)
            if v.action not in ("block", "warn", "allow"):
                bad.append(v)

    threads = [threading.Thread(target=screen) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(2000):
        feeds.views.update(in_block if i % 2 else in_warn)
    stop.set()
    for t in threads:
        t.join()
    assert bad == []
