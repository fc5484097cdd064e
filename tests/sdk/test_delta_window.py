"""Issue 13 item 8: a snapshot cut must not force screeners behind it to download the feed.

The attack: a member toggles one value per build; every `snapshot_every` builds the
hub cut a snapshot and dropped every delta, so each screener even one version
behind re-downloaded the whole feed. Now the hub keeps the deltas of a window
(`LIANFANG_FEED_DELTA_WINDOW_VERSIONS` / `_HOURS`, whichever covers more) across
cuts. Real hub over HTTP, real FeedClient, and the counting relay of
tests/helpers/hostile_mirror.py in between, which is what measures the bytes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from client_sdk.feed_client import FeedClient
from hub.feeds.builder import build_feeds, keystore_for
from schemas.timefmt import utcnow
from tests.helpers.hostile_mirror import HostileMirror, hostile_mirror
from tests.helpers.hub import serve_hub
from tests.hub.reports_support import hv, rep, report

FEED = "phone-warn"
SEED = 3000  # enough keys that the snapshot outweighs fifty one-key deltas
SNAPSHOT_EVERY = 10
WINDOW = 50


@pytest.fixture
def windowed_hub(db_url: str, tmp_path: Path) -> Any:
    with serve_hub(db_url, tmp_path / "hub", feed_snapshot_every=SNAPSHOT_EVERY,
                   feed_delta_window_versions=WINDOW, feed_delta_window_hours=0) as hub:
        yield hub


def _publish(hub: Any, member: Any, values: list[str]) -> int:
    """One single-member warn listing per value (confidence ≥ 80), then a build."""
    answer = report(hub, member, [rep(v, confidence=95) for v in values])
    assert answer.status_code in (200, 201, 202), answer.text
    return build_feeds(hub.app, feeds=[FEED]).published[FEED]


def _manifest(hub: Any, token: str) -> dict[str, Any]:
    return hub.http.get(hub.url + f"/v1/feeds/{FEED}/manifest.json",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30
                        ).json()["signed"]


def _setup(hub: Any) -> tuple[Any, str, str]:
    """A member, its reader token and the hub's root key (what screeners pin)."""
    member = hub.new_member()
    token = hub.member(*member, "POST", "/v1/reader-tokens", json={}).json()["token"]
    with hub.app.app_context():
        root = keystore_for(hub.app).root_public_b64()
    return member, token, root


def _screener(mirror: HostileMirror, root: str, token: str, state: Path) -> FeedClient:
    return FeedClient(mirror.url, root, state, token=token, feeds=[FEED])


def _sync_bytes(client: FeedClient, mirror: HostileMirror) -> tuple[int, list[str], int]:
    """(artifact bytes, artifact paths, manifest bytes) one sync downloaded."""
    mark = len(mirror.bytes_served)
    result = client.sync()[FEED]
    assert result.ok, result
    served = mirror.bytes_served[mark:]
    paths = [p for p, _ in served if "/artifacts/" in p]
    return (mirror.bytes_since(mark, "/artifacts/"), paths,
            mirror.bytes_since(mark, "manifest.json"))


def test_screeners_behind_a_snapshot_cut_sync_by_deltas(
    windowed_hub: Any, tmp_path: Path
) -> None:
    hub = windowed_hub
    member, token, root = _setup(hub)
    first = _publish(hub, member, [hv() for _ in range(SEED)])
    with hostile_mirror(hub.url) as mirror:
        lags = (50, 5, 1)
        target = first + 50
        screeners = {lag: _screener(mirror, root, token, tmp_path / f"s{lag}") for lag in lags}
        _sync_bytes(screeners[50], mirror)  # at `first`: 50 behind at the end
        version = first
        while version < target:
            version = _publish(hub, member, [hv()])
            for lag, client in screeners.items():
                if version == target - lag:
                    _sync_bytes(client, mirror)
        signed = _manifest(hub, token)
        assert signed["version"] == target
        # the target itself is a snapshot cut: every screener is behind it
        assert signed["snapshot"]["version"] == target
        snapshot_path = f"/v1/feeds/{FEED}/{signed['snapshot']['path']}"
        for lag, client in screeners.items():
            assert client.view(FEED).version == target - lag
            fetched, paths, _ = _sync_bytes(client, mirror)
            assert client.view(FEED).version == target
            assert client.view(FEED).keys.size == SEED + 50
            assert snapshot_path not in paths, f"{lag} behind fetched the snapshot"
            assert len(paths) == lag and fetched < signed["snapshot"]["size"]
            assert fetched <= lag * 200, (lag, fetched)

        # a screener behind the window falls back to the snapshot
        late = FeedClient(mirror.url, root, token=token, feeds=[FEED], state_dir=tmp_path / "late")
        _sync_bytes(late, mirror)
        for _ in range(WINDOW + 1):
            _publish(hub, member, [hv()])
        signed = _manifest(hub, token)
        assert min(d["from"] for d in signed["deltas"]) > target
        fetched, paths, _ = _sync_bytes(late, mirror)
        assert paths[0] == f"/v1/feeds/{FEED}/{signed['snapshot']['path']}"
        assert fetched >= signed["snapshot"]["size"]
        assert late.view(FEED).version == signed["version"]


def test_the_hour_window_keeps_what_the_version_window_would_drop(
    db_url: str, tmp_path: Path
) -> None:
    """Versions=2 but hours=24: a screener 30 versions behind whose version was live
    an hour ago still syncs by deltas; one whose version was replaced 25 hours ago
    takes the snapshot."""
    start = utcnow()
    with time_machine.travel(start, tick=True) as traveller, serve_hub(
        db_url, tmp_path / "hub", feed_snapshot_every=SNAPSHOT_EVERY,
        feed_delta_window_versions=2, feed_delta_window_hours=24,
    ) as hub, hostile_mirror(hub.url) as mirror:
        member, token, root = _setup(hub)
        _publish(hub, member, [hv() for _ in range(SEED)])
        old = FeedClient(mirror.url, root, token=token, feeds=[FEED], state_dir=tmp_path / "old")
        _sync_bytes(old, mirror)
        _publish(hub, member, [hv()])
        traveller.shift(timedelta(hours=25))
        _publish(hub, member, [hv()])
        recent = _screener(mirror, root, token, tmp_path / "recent")
        _sync_bytes(recent, mirror)
        traveller.shift(timedelta(hours=1))
        for _ in range(30):
            _publish(hub, member, [hv()])
        signed = _manifest(hub, token)
        snapshot_path = f"/v1/feeds/{FEED}/{signed['snapshot']['path']}"
        _, paths, _ = _sync_bytes(recent, mirror)
        assert snapshot_path not in paths and len(paths) == 30
        _, paths, _ = _sync_bytes(old, mirror)
        assert paths[0] == snapshot_path
        assert old.view(FEED).keys.tolist() == recent.view(FEED).keys.tolist()
