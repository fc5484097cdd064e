"""A screener in OPRF mode (issue 20) on the real hub: no key on the device, a listed
number blocked, quota exhaustion and an unreachable hub said in the verdict."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub.db import get_db
from hub.feeds.builder import build_feeds, keystore_for
from hub.services import oprf_keys
from hub.services.consortium_keys import config_wrapping_key, current_key
from tests.helpers.hub import serve_hub

FRAUD = "+86 138 1234 5678"
SINGLE = "13711112222"
CONTACT = "13655556666"
DAY = datetime(2026, 11, 25, 10, 0)


def _oprf_bank(hub: Any) -> MemberClient:
    member_id, key = hub.new_member()
    return MemberClient(hub.url, key, member_id, hashing="oprf")


def _hub_secrets(hub: Any) -> list[bytes]:
    """The phone HMAC key and the OPRF private key, from the hub's own store."""
    cfg = hub.app.config["LIANFANG"]
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        wrap = config_wrapping_key(cfg)
        _, phone_key = current_key(session, wrap)
        _, server = oprf_keys.current_oprf_key(session, wrap)
        session.commit()
        return [phone_key, server._key]


def _assert_holds_none(feeds: FeedClient, screener: CallScreener, state: Path,
                       secrets_: list[bytes]) -> None:
    """Neither key in the state directory nor in any attribute reachable from the objects."""
    forms = [f for s in secrets_ for f in (s, s.hex().encode(), base64.b64encode(s))]
    for path in state.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(f in data for f in forms), path
    seen: set[int] = set()

    def walk(obj: Any, depth: int = 0) -> None:
        if id(obj) in seen or depth > 6:
            return
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray | memoryview):
            assert not any(bytes(f) in bytes(obj) for f in forms)
        elif isinstance(obj, str):
            assert not any(f.decode("ascii", "ignore") in obj for f in forms[1:])
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(k, depth + 1)
                walk(v, depth + 1)
        elif isinstance(obj, list | tuple | set | frozenset):
            for v in obj:
                walk(v, depth + 1)
        elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
            for name in getattr(obj, "__slots__", ()) or ():
                walk(getattr(obj, name, None), depth + 1)
            for v in getattr(obj, "__dict__", {}).values():
                walk(v, depth + 1)
    walk(feeds)
    walk(screener)
    assert feeds.publication.hash_keys == () and feeds._consortium == {}


@pytest.fixture
def oprf_hub(db_url: str, tmp_path: Path) -> Iterator[Any]:
    with serve_hub(db_url, tmp_path / "data", ratelimit_oprf_reader="6/day") as hub:
        yield hub


def test_screener_without_a_key_blocks_what_two_members_reported(oprf_hub: Any,
                                                                 tmp_path: Path) -> None:
    a, b = _oprf_bank(oprf_hub), _oprf_bank(oprf_hub)
    assert a.report("phone", [FRAUD, SINGLE, "not a number"], "fraud", 95).accepted == 2
    assert b.report("phone", [FRAUD], "fraud", 95).accepted == 1
    build_feeds(oprf_hub.app)
    with oprf_hub.app.app_context():
        root = keystore_for(oprf_hub.app).root_public_b64()

    state = tmp_path / "screener"
    feeds = FeedClient(oprf_hub.url, root, state, token=a.mint_reader_token(), hashing="oprf")
    assert all(r.ok for r in feeds.sync().values())
    screener = CallScreener(feeds, contacts=[CONTACT])
    verdict = screener.check(FRAUD, at=DAY)
    assert verdict.action == "block" and verdict.reasons == ("consortium_block",)
    assert not verdict.stale
    assert screener.check(SINGLE, at=DAY).action == "warn"  # one member cannot block
    assert screener.check("13500009999", at=DAY).reasons == ("no_match",)
    assert screener.check(CONTACT, at=DAY).reasons == ("contact",)  # never evaluated
    _assert_holds_none(feeds, screener, state, _hub_secrets(oprf_hub))

    # 3 of 6 evaluations spent; cached numbers cost nothing, 3 new ones spend the rest
    for _ in range(5):
        assert screener.check(FRAUD, at=DAY).action == "block"
    for n in range(3):
        assert screener.check(f"1350000{n:04d}", at=DAY).action == "allow"
    spent = screener.check("13500001111", at=DAY)
    assert spent.action == "allow" and "oprf_quota" in spent.reasons and spent.stale
    assert screener.check(FRAUD, at=DAY).action == "block"  # cached: still works
    assert screener.check(CONTACT, at=DAY).reasons == ("contact",)


def test_an_unreachable_hub_is_said_and_cached_numbers_still_work(live_hub: Any,
                                                                  tmp_path: Path) -> None:
    a, b = _oprf_bank(live_hub), _oprf_bank(live_hub)
    for bank in (a, b):
        assert bank.report("phone", [FRAUD], "fraud", 95).accepted == 1
    build_feeds(live_hub.app)
    with live_hub.app.app_context():
        root = keystore_for(live_hub.app).root_public_b64()
    feeds = FeedClient(live_hub.url, root, tmp_path / "s", token=a.mint_reader_token(),
                       hashing="oprf")
    assert all(r.ok for r in feeds.sync().values())
    screener = CallScreener(feeds)
    assert screener.check(FRAUD, at=DAY).action == "block"
    assert feeds.oblivious is not None
    feeds.oblivious._fetcher.base = "http://127.0.0.1:9"  # the hub is gone
    offline = screener.check("13500002222", at=DAY)
    assert "oprf_offline" in offline.reasons and offline.stale
    assert screener.check(FRAUD, at=DAY).action == "block"
    # control: the same inspection finds the key of a screener in HMAC mode
    hmac_feeds = FeedClient(live_hub.url, root, tmp_path / "h", token=a.mint_reader_token())
    assert all(r.ok for r in hmac_feeds.sync().values())
    with pytest.raises(AssertionError):
        _assert_holds_none(hmac_feeds, CallScreener(hmac_feeds), tmp_path / "h",
                           _hub_secrets(live_hub))


def test_member_oprf_reports_differ_from_hmac_reports(live_hub: Any) -> None:
    """The two schemes give different values: an OPRF screener never matches HMAC data."""
    member_id, key = live_hub.new_member()
    hmac_bank = MemberClient(live_hub.url, key, member_id)
    oprf_bank = MemberClient(live_hub.url, key, member_id, hashing="oprf")
    _, phone_key = hmac_bank.consortium_key("phone")
    from client_sdk.hashing import hash_indicator
    got = oprf_bank._oblivious_values("phone", [FRAUD, "x"], "CN")[1]
    assert got[0] != hash_indicator("phone", FRAUD, phone_key)
    assert isinstance(got[1], Exception)
    with pytest.raises(ValueError):
        MemberClient(live_hub.url, key, member_id, hashing="md5")
