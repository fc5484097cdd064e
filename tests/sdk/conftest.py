"""Fixtures for the SDK sync tests: a fixed clock and a miniature signing hub."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine

from hub.feeds.builder import keystore_for
from tests.helpers.hub import LiveHub
from tests.helpers.static_hub import NOW, StaticHub, StaticHubHandler
from tests.sdk.feedfactory import FeedFactory


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def clock_at_now(now: datetime) -> Iterator[time_machine.Coordinates]:
    """Wall clock at `now` and ticking: the factory's manifests are fresh for the test."""
    with time_machine.travel(now, tick=True) as traveller:
        yield traveller


@pytest.fixture
def factory(now: datetime) -> FeedFactory:
    return FeedFactory(now)


@pytest.fixture
def root_key(live_hub: LiveHub) -> str:
    """What an operator hands screeners once (`lianfang-hub root-key`)."""
    with live_hub.app.app_context():
        return keystore_for(live_hub.app).root_public_b64()


# ------------------------------------------------------------ static file hub


@pytest.fixture
def static_hub(tmp_path: Path, factory: FeedFactory) -> Iterator[StaticHub]:
    root = (tmp_path / "hub").resolve()
    root.mkdir()
    seen: list[str] = []
    fail_once: set[str] = set()
    token = secrets.token_urlsafe(16)
    handler = type(
        "Handler",
        (StaticHubHandler,),
        {"root": root, "token": token, "requests_seen": seen, "fail_once": fail_once},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticHub(
            f"http://127.0.0.1:{server.server_port}", root, token, seen, factory, fail_once
        )
    finally:
        server.shutdown()
        server.server_close()
