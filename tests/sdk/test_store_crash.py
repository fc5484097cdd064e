"""Crash safety: a sync SIGKILLed at a random moment leaves a store that loads and verifies.

A child process runs a real FeedClient sync against the loopback feed server
and is killed after a random delay drawn across the measured length of a sync
(download, decode, data-file write and fsync, state.json swap). After every
kill the store must hold exactly the old version or the new one, never a mix,
and the digest check on load must pass.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from client_sdk.store import FeedStore
from schemas.timefmt import utcnow
from tests.helpers.static_hub import StaticHub
from tests.sdk.feedfactory import FeedFactory

FEED = "phone-block"
REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from client_sdk.feed_client import FeedClient
url, root, state, token = sys.argv[1:5]
client = FeedClient(url, root, state, token=token, feeds=("phone-block",))
print("ready", flush=True)
result = client.sync()["phone-block"]
print("done", result.ok, result.version, result.error_code, flush=True)
"""
KILLS = 8


@pytest.fixture
def factory() -> FeedFactory:
    # the child process reads the real clock, so the feed is signed for real now
    return FeedFactory(utcnow())


def _start(hub: StaticHub, state: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, hub.url, hub.factory.root_public_b64, str(state), hub.token],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + (proc.stderr.read() if proc.stderr else "")
    return proc


def test_sigkill_during_sync_leaves_old_or_new(static_hub: StaticHub, tmp_path: Path) -> None:
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    hub, f = static_hub, static_hub.factory
    state = tmp_path / "state"
    history: dict[int, list[int]] = {}

    def publish(snapshot: bool) -> None:
        keys = rng.integers(0, 2**63, size=int(rng.integers(150_000, 250_000)), dtype=np.uint64)
        f.publish(FEED, keys.tolist(), snapshot=snapshot)
        history[f.feed(FEED).version] = f.feed(FEED).data.tolist()
        hub.publish_tree()

    publish(snapshot=True)
    started = time.monotonic()
    proc = _start(hub, state)
    out, err = proc.communicate(timeout=120)
    duration = time.monotonic() - started
    assert out.startswith("done True 1"), out + err

    for i in range(KILLS):
        before = FeedStore(state, FEED, records=False).load()
        assert before is not None and before.data is not None
        publish(snapshot=i % 2 == 0)
        new_version = f.feed(FEED).version
        proc = _start(hub, state)
        time.sleep(random.uniform(0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        loaded = FeedStore(state, FEED, records=False).load()
        assert loaded is not None and loaded.data is not None, f"kill {i}: store unreadable"
        assert loaded.version in (before.version, new_version)
        assert loaded.data.tolist() == history[loaded.version]
        if loaded.version != new_version:
            # the next kill must start from the newest version, so finish this sync
            finish = _start(hub, state)
            out, err = finish.communicate(timeout=120)
            assert out.startswith(f"done True {new_version}"), out + err
        leftovers = [p.name for p in (state / FEED).iterdir() if p.suffix == ".u64"]
        assert len(leftovers) <= 2  # at most the committed file and one orphan
