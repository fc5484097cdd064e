"""End to end: the real hub on loopback builds and serves feeds, the real FeedClient syncs.

Two approved members report the same numbers (one member can never block
alone), the admin builds the feeds, and a screener's FeedClient -- pinned only
to the hub's root key -- ends up with the hashed numbers in its block view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client_sdk.feed_client import FeedClient
from hub.feeds.builder import build_feeds
from schemas.indicators import hash_indicator
from schemas.keys import b64decode
from schemas.manifest import phone_key

NUMBERS = ["13800138000", "+86 139 0013 9000"]


def _consortium(hub: Any, member: tuple[str, Any]) -> tuple[int, bytes]:
    doc = hub.member(*member, "GET", "/v1/consortium-key").json()
    current = doc["current_epoch"]
    key = next(k["key"] for k in doc["keys"] if k["epoch"] == current)
    return current, b64decode(key, length=32)


def _report(hub: Any, member: tuple[str, Any], numbers: list[str]) -> None:
    epoch, key = _consortium(hub, member)
    reports = [
        {"kind": "phone", "value": hash_indicator("phone", n, key), "category": "fraud",
         "confidence": 95, "key_epoch": epoch}
        for n in numbers
    ]
    response = hub.member(*member, "POST", "/v1/reports", json={"reports": reports})
    assert response.status_code in (200, 201, 202), response.text


def _build(hub: Any) -> None:
    # in-process like tests/hub/test_feeds_api.py (the scheduler job's entry point)
    build_feeds(hub.app)


def test_screener_syncs_real_hub_feeds(live_hub: Any, root_key: str, tmp_path: Path) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    _report(live_hub, a, NUMBERS)
    _report(live_hub, b, NUMBERS)
    _build(live_hub)
    token = live_hub.member(*a, "POST", "/v1/reader-tokens", json={}).json()["token"]

    client = FeedClient(live_hub.url, root_key, tmp_path / "state", token=token)
    results = client.sync()
    assert all(r.ok for r in results.values()), results
    epoch, key = _consortium(live_hub, a)
    assert client.hash_keys() == [(epoch, key)]
    view = client.view("phone-block")
    assert view is not None and not view.stale
    expected = sorted(phone_key(hash_indicator("phone", n, key)) for n in NUMBERS)
    assert view.keys.tolist() == expected

    # unchanged: nothing downloaded again; a new listing arrives as a new version
    assert all(r.ok and not r.changed for r in client.sync().values())
    _report(live_hub, a, ["13700137000"])
    _report(live_hub, b, ["13700137000"])
    _build(live_hub)
    result = client.sync()["phone-block"]
    assert result.ok and result.changed and result.version == view.version + 1
    assert phone_key(hash_indicator("phone", "13700137000", key)) in client.view(
        "phone-block").keys.tolist()


def test_member_signature_auth_and_no_auth(live_hub: Any, root_key: str, tmp_path: Path) -> None:
    member_id, key = live_hub.new_member()
    _build(live_hub)
    signed = FeedClient(live_hub.url, root_key, tmp_path / "m", member_id=member_id,
                        private_key=key)
    assert all(r.ok for r in signed.sync().values())
    anonymous = FeedClient(live_hub.url, root_key, tmp_path / "anon")
    assert {r.error_code for r in anonymous.sync().values()} == {"fetch"}
