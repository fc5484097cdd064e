"""CallScreener over real hashed feed data (docs/ARCHITECTURE.md §6 screening order)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from client_sdk.publication import FeedView, Publication
from client_sdk.screener import CallScreener, Verdict
from schemas.indicators import InvalidIndicator, hash_indicator
from schemas.manifest import phone_key

KEY1 = secrets.token_bytes(32)
KEY2 = secrets.token_bytes(32)
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)

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
    """The reader side of FeedClient over fixed, real hashed data.

    Change `views` / `keys`, then `publish()`: like FeedClient after a sync, it
    swaps in a whole new `Publication` (a view marked stale gets a freshness
    that has already passed).
    """

    def __init__(
        self,
        views: Mapping[str, FeedView | None],
        hash_keys: list[tuple[int, bytes]] | None = None,
    ) -> None:
        self.views = dict(views)
        self.keys = [(1, KEY1)] if hash_keys is None else hash_keys
        self.publication = Publication.empty()
        self.publish()

    def publish(self) -> Publication:
        present = [v for v in self.views.values() if v is not None]
        fresh = {v.feed: LONG_AGO if v.stale else EXPIRES for v in present}
        self.publication = Publication.build(
            [replace(v, stale=False) for v in present], self.keys, fresh, self.publication)
        return self.publication


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
    feeds.publish()
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
    feeds.publish()
    verdict = s.check(BLOCKED)
    assert verdict.action == "block" and verdict.stale
    assert verdict.reasons == ("consortium_block", "stale_data")
    feeds.views["phone-block"] = replace(feeds.views["phone-block"], stale=False)
    feeds.publish()
    assert s.check(BLOCKED).reasons == ("consortium_block",)


def test_no_consortium_key_yet_allows_and_says_why() -> None:
    feeds = standard_feeds()
    feeds.keys = []
    feeds.publish()
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
    feeds.publish()
    assert s.check(BLOCKED).action == "allow"
    assert s.check(WARNED).action == "warn"
    assert s.check_hashed(key64(CONTACT, KEY2)).reasons == ("contact",)
    assert s.check_hashed(key64(CONTACT, KEY1)).reasons != ("contact",)


def test_new_feed_version_is_used_immediately() -> None:
    feeds = standard_feeds()
    s = CallScreener(feeds)
    assert s.check(UNKNOWN).action == "allow"
    feeds.views["phone-block"] = feed_view("phone-block", [key64(UNKNOWN)], version=8)
    feeds.publish()
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


def test_verdicts_stay_consistent_while_publications_swap_under_screening_threads() -> None:
    """Every verdict comes from exactly one publication: versions and answer agree."""
    import threading

    feeds = standard_feeds()
    s = CallScreener(feeds)
    publications = []
    for version in range(10, 14):
        listed = [key64(UNKNOWN)]
        feeds.views = {
            "phone-allow": feed_view("phone-allow", [], version=version),
            "phone-block": feed_view("phone-block", listed if version % 2 else [], version),
            "phone-warn": feed_view("phone-warn", [] if version % 2 else listed, version),
        }
        publications.append(feeds.publish())
    bad: list[Verdict] = []
    seen: set[int] = set()
    stop = threading.Event()

    def screen() -> None:
        while not stop.is_set():
            for v in (s.check(UNKNOWN), s.check_hashed(key64(UNKNOWN))):
                versions = set(v.feed_version.values())  # type: ignore[union-attr]
                if len(versions) != 1:
                    bad.append(v)
                    continue
                (version,) = versions
                seen.add(version)
                if v.action != ("block" if version % 2 else "warn"):
                    bad.append(v)

    threads = [threading.Thread(target=screen) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    i = 0
    while i < 400 or (len(seen) < len(publications) and time.monotonic() < deadline):
        feeds.publication = publications[i % len(publications)]
        i += 1
        if i % 7 == 0:  # 7 is prime to 4: the threads get to run under every publication
            time.sleep(0.0001)
    stop.set()
    for t in threads:
        t.join()
    assert bad == []
    assert seen == {10, 11, 12, 13}


def test_user_feedback_wins_over_feeds_and_contacts(screener: CallScreener) -> None:
    assert screener.mark("+86 137 0013 7000", "not_spam") == "+8613700137000"
    for shown in (BLOCKED, "137-0013-7000"):
        assert screener.check(shown) == Verdict("allow", ("user_not_spam",), (), None, False)
    assert screener.check_hashed(key64(BLOCKED)).reasons == ("user_not_spam",)
    screener.mark(ALLOWED, "spam")
    screener.mark(CONTACT, "spam")
    assert screener.check(ALLOWED).reasons == ("user_spam",)
    assert screener.check(CONTACT).action == "block"
    assert dict(screener.feedback) == {"+8613700137000": "not_spam", "+8613900139000": "spam",
                                       "+8613800138000": "spam"}
    # Feedback survives a new publication and a new address book, and can be cleared.
    screener._client.publish()  # type: ignore[attr-defined]
    screener.update_contacts([CONTACT])
    assert screener.check(ALLOWED).reasons == ("user_spam",)
    screener.mark(BLOCKED, None)
    assert screener.check(BLOCKED).reasons == ("consortium_block",)
    with pytest.raises(TypeError):
        screener.feedback["+8613300133000"] = "spam"  # type: ignore[index]


@pytest.mark.parametrize(("number", "label"), [("99999", "spam"), ("138", "spam"),
                                              (BLOCKED, "block"), (BLOCKED, "")])
def test_bad_feedback_is_refused_without_echoing_the_number(
    screener: CallScreener, number: str, label: str
) -> None:
    with pytest.raises(ValueError) as refused:
        screener.mark(number, label)
    assert number not in str(refused.value)
    assert dict(screener.feedback) == {}


_NUMBERS = (BLOCKED, ALLOWED, WARNED, UNKNOWN, CONTACT)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_NUMBERS),
                          st.sampled_from(["spam", "not_spam", None])), max_size=12))
def test_the_last_mark_decides_and_clearing_restores_the_feeds(
    screener: CallScreener, marks: list[tuple[str, str | None]]
) -> None:
    for number, _ in marks:
        screener.mark(number, None)
    feeds_say = {n: screener.check(n) for n in _NUMBERS}
    last: dict[str, str | None] = {}
    for number, label in marks:
        screener.mark(number, label)
        last[number] = label
    for number in _NUMBERS:
        label = last.get(number)
        expected = feeds_say[number] if label is None else Verdict(
            "block" if label == "spam" else "allow", (f"user_{label}",), (), None, False)
        assert screener.check(number) == expected
        assert screener.check_hashed(key64(number)) == expected
