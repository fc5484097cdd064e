"""FeedClient against a real HTTP server on loopback serving a signed feed tree.

The static server stands in for the hub's (or a CDN's) feed directory until the
hub's feed endpoints exist; it is a real server, and the documents it serves are
really signed by tests/sdk/feedfactory.py.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from client_sdk.feed_client import FeedClient, FeedView, next_delay
from client_sdk.store import FeedStore
from tests.helpers.static_hub import StaticHub

PHONE = ("phone-block", "phone-warn", "phone-allow")
ALL = (*PHONE, "complaint-groups")


@pytest.fixture(autouse=True)
def _clock(clock_at_now: time_machine.Coordinates) -> time_machine.Coordinates:
    return clock_at_now


@pytest.fixture
def hub(static_hub: StaticHub) -> StaticHub:
    f = static_hub.factory
    f.publish("phone-block", {11, 22, 33})
    f.publish("phone-warn", {44})
    f.publish("phone-allow", set())
    f.publish("complaint-groups", [{"group_id": "g-01", "action": "review", "member_count": 2}])
    static_hub.publish_tree()
    return static_hub


def _client(hub: StaticHub, state: Path, **kw: object) -> FeedClient:
    return FeedClient(hub.url, hub.factory.root_public_b64, state, token=hub.token, **kw)


def test_first_sync_then_not_modified(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state", feeds=ALL)
    assert client.view("phone-block") is None
    results = client.sync()
    assert all(r.ok and r.changed and r.version == 1 for r in results.values()), results
    view = client.view("phone-block")
    assert isinstance(view, FeedView) and view.keys.tolist() == [11, 22, 33]
    assert not view.stale and view.records == ()
    assert client.view("complaint-groups").records[0]["group_id"] == "g-01"
    assert client.hash_keys() == [(1, hub.factory.consortium[1])]
    hub.requests.clear()
    again = client.sync()
    assert all(r.ok and not r.changed for r in again.values())
    assert not any("artifacts" in p for p in hub.requests)
    assert client.view("phone-block") is view  # nothing changed: same object


def test_delta_sync_downloads_only_the_delta(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    client.sync()
    hub.factory.publish("phone-block", {11, 33, 99})
    hub.publish_tree()
    hub.requests.clear()
    result = client.sync()["phone-block"]
    assert result.ok and result.changed and result.version == 2
    delta_path = hub.factory.feed("phone-block").deltas[-1]["path"]
    assert [p for p in hub.requests if "artifacts" in p] == [f"/v1/feeds/phone-block/{delta_path}"]
    assert client.view("phone-block").keys.tolist() == [11, 33, 99]
    # a restarted client loads the same verified state from disk
    fresh = _client(hub, tmp_path / "state")
    assert fresh.view("phone-block").keys.tolist() == [11, 33, 99]


def _assert_kept(client: FeedClient, feed: str, version: int, keys: list[int]) -> None:
    view = client.view(feed)
    assert view is not None and view.version == version and view.keys.tolist() == keys


def test_tampered_delta_keeps_last_good(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    client.sync()
    hub.factory.publish("phone-block", {11, 22, 33, 44})
    hub.publish_tree()
    art = hub.root / "v1/feeds/phone-block" / hub.factory.feed("phone-block").deltas[-1]["path"]
    raw = bytearray(art.read_bytes())
    raw[-1] ^= 1
    art.write_bytes(bytes(raw))
    result = client.sync()["phone-block"]
    assert not result.ok and result.error_code == "artifact_hash"
    _assert_kept(client, "phone-block", 1, [11, 22, 33])
    assert client.status()["phone-block"].last_error_code == "artifact_hash"
    assert client.sync()["phone-warn"].ok  # other feeds are unaffected


def test_failed_delta_path_retries_from_snapshot(hub: StaticHub, tmp_path: Path) -> None:
    """A delta that fails to download (CDN hiccup) is retried once via the snapshot."""
    client = _client(hub, tmp_path / "state")
    client.sync()
    hub.factory.publish("phone-block", {1, 2})
    hub.publish_tree()
    hist = hub.factory.feed("phone-block")
    delta = f"/v1/feeds/phone-block/{hist.deltas[-1]['path']}"
    hub.fail_once.add(delta)
    hub.requests.clear()
    result = client.sync()["phone-block"]
    assert result.ok and result.version == 2, result
    assert f"/v1/feeds/phone-block/{hist.snapshot['path']}" in hub.requests
    assert hub.requests.count(delta) == 2
    assert client.view("phone-block").keys.tolist() == [1, 2]


def test_rollback_to_old_manifest_refused(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    old_manifest = hub.factory.feed("phone-block").latest()
    hub.factory.publish("phone-block", {5})
    hub.publish_tree()
    client.sync()
    (hub.root / "v1/feeds/phone-block/manifest.json").write_bytes(old_manifest)
    result = client.sync()["phone-block"]
    assert result.error_code == "rollback"
    _assert_kept(client, "phone-block", 2, [5])


def test_manifest_of_another_feed_refused(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    warn = (hub.root / "v1/feeds/phone-warn/manifest.json").read_bytes()
    (hub.root / "v1/feeds/phone-block/manifest.json").write_bytes(warn)
    result = client.sync()["phone-block"]
    assert result.error_code == "wrong_feed" and client.view("phone-block") is None


def test_freeze_marks_stale_and_keeps_data(hub: StaticHub, tmp_path: Path,
                                           _clock: time_machine.Coordinates) -> None:
    client = _client(hub, tmp_path / "state")
    client.sync()
    _clock.shift(timedelta(days=3))  # manifests live 2 days; the hub stopped refreshing
    result = client.sync()["phone-block"]
    assert result.error_code == "freeze"
    view = client.view("phone-block")
    assert view.stale and view.keys.tolist() == [11, 22, 33]
    assert client.status()["phone-block"].stale


def test_endless_artifact_cut_at_manifest_size(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    snap = hub.root / "v1/feeds/phone-block" / hub.factory.feed("phone-block").snapshot["path"]
    snap.write_bytes(snap.read_bytes() + b"\0" * (4 << 20))
    result = client.sync()["phone-block"]
    assert result.error_code == "artifact_too_large"
    assert client.view("phone-block") is None


def test_artifact_over_client_limit_not_downloaded(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state", max_artifact_bytes=16)
    hub.requests.clear()
    assert client.sync()["phone-block"].error_code == "artifact_too_large"
    assert not any("artifacts" in p for p in hub.requests)


def test_swapped_consortium_key_refused(hub: StaticHub, tmp_path: Path) -> None:
    real = dict(hub.factory.consortium)
    hub.factory.consortium[1] = b"\x07" * 32
    (hub.root / "v1/consortium-key").write_bytes(hub.factory.consortium_json())
    hub.factory.consortium.update(real)
    client = _client(hub, tmp_path / "state")
    result = client.sync()["phone-block"]
    assert result.error_code == "consortium_key"
    assert client.hash_keys() == []


def test_consortium_keys_file_is_private(hub: StaticHub, tmp_path: Path) -> None:
    _client(hub, tmp_path / "state").sync()
    assert (tmp_path / "state/trust/consortium.json").stat().st_mode & 0o777 == 0o600


def test_root_rotation_followed_and_remembered(hub: StaticHub, tmp_path: Path) -> None:
    pinned = hub.factory.root_public_b64
    client = FeedClient(hub.url, pinned, tmp_path / "state", token=hub.token)
    assert client.sync()["phone-block"].ok
    hub.factory.rotate_root()
    hub.publish_tree()
    assert all(r.ok for r in client.sync().values())
    stored = json.loads((tmp_path / "state/trust/root.json").read_bytes())
    assert stored["version"] == 2
    hub.factory.rotate_root()
    hub.publish_tree()
    restarted = FeedClient(hub.url, pinned, tmp_path / "state", token=hub.token)
    assert all(r.ok for r in restarted.sync().values())


def test_keyset_by_foreign_root_refused(hub: StaticHub, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    client = _client(hub, tmp_path / "state")
    client.sync()
    hub.publish_tree(keyset=hub.factory.keyset(signer=Ed25519PrivateKey.generate()))
    results = client.sync()
    assert {r.error_code for r in results.values()} == {"keyset_signature"}
    _assert_kept(client, "phone-block", 1, [11, 22, 33])


def test_missing_token_is_a_fetch_error(hub: StaticHub, tmp_path: Path) -> None:
    client = FeedClient(hub.url, hub.factory.root_public_b64, tmp_path / "state")
    result = client.sync()["phone-block"]
    assert result.error_code == "fetch" and "401" in (result.error or "")


def test_hub_down_is_a_fetch_error(hub: StaticHub, tmp_path: Path) -> None:
    client = FeedClient("http://127.0.0.1:9", hub.factory.root_public_b64, tmp_path / "s",
                        token="t", timeout_s=2)
    assert {r.error_code for r in client.sync().values()} == {"fetch"}


def test_corrupted_store_detected_and_resynced(hub: StaticHub, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _client(hub, state).sync()
    data_file = next((state / "phone-block").glob("keys-*.u64"))
    raw = bytearray(data_file.read_bytes())
    raw[0] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    client = _client(hub, state)
    assert client.view("phone-block") is None  # corrupt data is never served
    assert client.view("phone-warn") is not None
    assert client.sync()["phone-block"].ok
    assert client.view("phone-block").keys.tolist() == [11, 22, 33]
    assert FeedStore(state, "phone-block", records=False).load().data is not None


def test_readers_do_not_wait_for_a_sync(hub: StaticHub, tmp_path: Path) -> None:
    client = _client(hub, tmp_path / "state")
    client.sync()
    seen: list[FeedView | None] = []
    with client._sync_lock:  # a sync in progress holds this lock
        reader = threading.Thread(target=lambda: seen.append(client.view("phone-block")))
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive()
    assert seen[0] is not None and seen[0].version == 1


def test_background_sync_honours_hub_minimum(hub: StaticHub, tmp_path: Path) -> None:
    hub.factory.min_poll_interval_s = 900
    hub.publish_tree()
    client = _client(hub, tmp_path / "state")
    client.start(interval_s=1, jitter_s=0)
    try:
        for _ in range(300):
            if client.status()["phone-block"].last_success is not None:
                break
            time.sleep(0.1)
        assert client.status()["phone-block"].version == 1
        for _ in range(100):
            nxt = client.next_run_at()
            if nxt is not None and nxt.timestamp() > time.time() + 60:
                break
            time.sleep(0.05)
        assert nxt is not None and nxt.timestamp() >= time.time() + 800
    finally:
        client.stop()
    assert client.next_run_at() is None


@pytest.mark.parametrize(("interval", "min_poll", "failures", "rand", "expected"), [
    (300, 60, 0, 0.0, 300), (30, 60, 0, 0.0, 60), (300, 60, 0, 0.5, 315),
    (300, 60, 1, 0.0, 600), (300, 60, 3, 0.0, 2400), (300, 60, 10, 0.0, 3600),
    (7200, 60, 5, 0.0, 7200),
])
def test_next_delay(interval: float, min_poll: float, failures: int, rand: float,
                    expected: float) -> None:
    assert next_delay(interval, min_poll, failures, 30, rand, 3600) == expected


def test_unwritable_store_keeps_serving_last_good(hub: StaticHub, tmp_path: Path) -> None:
    state = tmp_path / "state"
    client = _client(hub, state)
    client.sync()
    hub.factory.publish("phone-block", {7})
    hub.publish_tree()
    feed_dir = state / "phone-block"
    shutil.rmtree(feed_dir)
    feed_dir.write_bytes(b"not a directory")  # every write below it now fails
    result = client.sync()["phone-block"]
    assert not result.ok and result.error_code == "store_io"
    _assert_kept(client, "phone-block", 1, [11, 22, 33])
