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
from schemas.canonical import canonical_json
from schemas.envelope import sign_envelope
from schemas.keyfile import load_private_key
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


def _past_root_lifetime(client: FeedClient) -> Any:
    return utcnow() + DEFAULT_ROOT_LIFETIME + timedelta(seconds=client.clock_skew_s + 3600)


def _keyset_forged_by_root_v1(hub: Any) -> bytes:
    """keys.json as the holder of root v1's private key signs it: fresh, and without
    the root expiry the real hub states (the attacker would rather it never expired)."""
    with hub.app.app_context():
        ks = keystore_for(hub.app)
        real = ks.keyset_envelope(utcnow(), timedelta(days=7))
        signed = {k: v for k, v in real["signed"].items() if k != "root_expires_at"}
        root_v1 = load_private_key((ks.keys_dir / "root-1.pem").read_bytes(), None)
    return canonical_json(sign_envelope(signed, root_v1))


def test_pinned_root_v1_is_refused_once_expired_until_a_newer_root_is_reachable(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    """No rotation ever happened: the pinned root v1 itself expires (`root_expired`)."""
    build_feeds(live_hub.app)
    token = _token(live_hub)
    client = FeedClient(live_hub.url, root_key, tmp_path / "s", token=token,
                        feeds=["phone-block"])
    assert client.sync()["phone-block"].ok
    with time_machine.travel(_past_root_lifetime(client), tick=True):
        result = client.sync()["phone-block"]
        assert not result.ok and result.error_code == "root_expired"
        assert "root v1" in result.error
        _rotate_root(live_hub)  # the operator rotates: the chain reaches a fresh root
        build_feeds(live_hub.app)  # (and the hub re-signs its manifests, a year on)
        assert client.sync()["phone-block"].ok


def test_pinned_root_metadata_expiry_holds_against_the_old_root_keys_holder(
    live_hub: Any, tmp_path: Path
) -> None:
    """A screener pinned with `root-key --metadata` that only ever talks to a mirror run
    by whoever holds root v1's key: a keyset with no root expiry is still refused after
    the pinned metadata's `expires_at`, on its very first sync."""
    build_feeds(live_hub.app)
    token = _token(live_hub)
    with live_hub.app.app_context():
        pinned = canonical_json(keystore_for(live_hub.app).root_metadata()).decode()
    with hostile_mirror(live_hub.url) as mirror:
        probe = FeedClient(mirror.url, pinned, tmp_path / "probe", token=token,
                           feeds=["phone-block"])
        with time_machine.travel(_past_root_lifetime(probe), tick=True):
            mirror.overrides["/v1/keys.json"] = _keyset_forged_by_root_v1(live_hub)
            mirror.overrides["/v1/roots.json"] = b"[]"
            client = FeedClient(mirror.url, pinned, tmp_path / "s", token=token,
                                feeds=["phone-block"])
            assert client.sync()["phone-block"].error_code == "root_expired"


def test_a_learned_root_expiry_survives_restarts_and_documents_that_omit_it(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    """Bare-key pin: the expiry learned from the hub is kept on disk, so a restarted
    screener later fed by the v1 key holder (keys.json without `root_expires_at`, an
    empty roots.json) still refuses the expired root."""
    build_feeds(live_hub.app)
    token = _token(live_hub)
    assert FeedClient(live_hub.url, root_key, tmp_path / "s", token=token,
                      feeds=["phone-block"]).sync()["phone-block"].ok
    later = utcnow() + DEFAULT_ROOT_LIFETIME + timedelta(days=1)
    with hostile_mirror(live_hub.url) as mirror, time_machine.travel(later, tick=True):
        mirror.overrides["/v1/keys.json"] = _keyset_forged_by_root_v1(live_hub)
        mirror.overrides["/v1/roots.json"] = b"[]"
        restarted = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                               feeds=["phone-block"])
        assert restarted.sync()["phone-block"].error_code == "root_expired"


def test_a_rotated_roots_expiry_survives_a_restart_and_a_stripped_roots_json(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    """Re-attack: the expiry of root v2 came only from its rotation statement; a
    restarted screener served `[]` as roots.json forgot it and trusted v2 forever."""
    build_feeds(live_hub.app)
    token = _token(live_hub)
    _rotate_root(live_hub)
    assert FeedClient(live_hub.url, root_key, tmp_path / "s", token=token,
                      feeds=["phone-block"]).sync()["phone-block"].ok
    with hostile_mirror(live_hub.url) as mirror:
        mirror.overrides["/v1/roots.json"] = b"[]"
        restarted = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                               feeds=["phone-block"])
        with time_machine.travel(_past_root_lifetime(restarted), tick=True):
            assert restarted.sync()["phone-block"].error_code == "root_expired"
