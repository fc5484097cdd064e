"""Attack: a hostile mirror feeds a screener documents signed by a rotated-away root.

The review took a screener that was offline while the hub rotated its root,
then served it keys.json signed by the old root (whose key it held): the
screener trusted it forever, because roots.json was only read after keys.json
failed. Now every sync walks roots.json first, keys.json must be signed by the
newest root, and a root past its `expires_at` is refused. Real hub over HTTP,
with the mirror of tests/helpers in front of it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine

from client_sdk.feed_client import FeedClient
from hub.feeds.builder import build_feeds, keystore_for
from hub.feeds.keystore import DEFAULT_ROOT_LIFETIME
from schemas.timefmt import utcnow
from tests.helpers.hostile_mirror import hostile_mirror


def _token(hub: Any) -> str:
    member = hub.new_member()
    return hub.member(*member, "POST", "/v1/reader-tokens", json={}).json()["token"]


def _rotate_root(hub: Any) -> None:
    with hub.app.app_context():
        keystore_for(hub.app).rotate_root_key()


def test_old_root_keyset_is_refused_after_syncing_roots(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    build_feeds(live_hub.app)
    token = _token(live_hub)
    signed_by_old_root = live_hub.http.get(live_hub.url + "/v1/keys.json").content
    with hostile_mirror(live_hub.url) as mirror:
        client = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                            feeds=["phone-block"])
        assert client.sync()["phone-block"].ok
        _rotate_root(live_hub)  # the screener is offline meanwhile
        mirror.overrides["/v1/keys.json"] = signed_by_old_root
        result = client.sync()["phone-block"]
        assert not result.ok and result.error_code == "keyset_signature"
        assert mirror.requests_seen.index("/v1/roots.json") < len(mirror.requests_seen) - 1
        # the rotation stays learned: a restarted screener refuses the old root's keyset too
        restarted = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                               feeds=["phone-block"])
        assert restarted.sync()["phone-block"].error_code == "keyset_signature"
        del mirror.overrides["/v1/keys.json"]
        assert restarted.sync()["phone-block"].ok


def test_expired_root_is_refused(live_hub: Any, root_key: str, tmp_path: Path) -> None:
    build_feeds(live_hub.app)
    token = _token(live_hub)
    _rotate_root(live_hub)
    client = FeedClient(live_hub.url, root_key, tmp_path / "s", token=token,
                        feeds=["phone-block"])
    assert client.sync()["phone-block"].ok
    later = utcnow() + DEFAULT_ROOT_LIFETIME + timedelta(seconds=client.clock_skew_s + 3600)
    with time_machine.travel(later, tick=True):
        result = client.sync()["phone-block"]
        assert not result.ok and result.error_code == "root_expired"
        restarted = FeedClient(live_hub.url, root_key, tmp_path / "s", token=token,
                               feeds=["phone-block"])
        assert restarted.sync()["phone-block"].error_code == "root_expired"
