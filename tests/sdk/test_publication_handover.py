"""The hand-over from FeedClient to CallScreener: one publication per sync, read lock-free.

A real FeedClient syncs a real signed feed tree over loopback HTTP while
screening threads call `check` and `check_hashed` without pause. Each round
publishes all three phone feeds at once, so every verdict must carry one
version for all three feeds and the answer that version gives: a screener that
read one feed from one sync and another from the next would show two versions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from requests.adapters import HTTPAdapter

from client_sdk.feed_client import FeedClient
from client_sdk.publication import Publication
from client_sdk.screener import CallScreener, Verdict
from schemas.indicators import hash_indicator
from schemas.manifest import phone_key
from tests.helpers.static_hub import StaticHub

NUMBER = "13700137000"
ROUNDS = 6


@pytest.fixture(autouse=True)
def _clock(clock_at_now: time_machine.Coordinates) -> time_machine.Coordinates:
    return clock_at_now


def _publish_round(hub: StaticHub, key: int, listed_in: str) -> None:
    """One version of every phone feed; `key` is listed in `listed_in` only."""
    for feed in ("phone-block", "phone-warn", "phone-allow"):
        hub.factory.publish(feed, {key} if feed == listed_in else {1, 2})
    hub.publish_tree()


def _expected(version: int) -> str:
    return "block" if version % 2 else "warn"


def test_every_verdict_comes_from_one_publication(static_hub: StaticHub, tmp_path: Path) -> None:
    key = phone_key(hash_indicator("phone", NUMBER, static_hub.factory.consortium[1]))
    _publish_round(static_hub, key, "phone-block")  # version 1: block
    client = FeedClient(static_hub.url, static_hub.factory.root_public_b64, tmp_path / "s",
                        token=static_hub.token)
    assert all(r.ok for r in client.sync().values())
    screener = CallScreener(client)
    bad: list[Verdict] = []
    seen: set[int] = set()
    stop = threading.Event()

    def screen() -> None:
        while not stop.is_set():
            for verdict in (screener.check(NUMBER), screener.check_hashed(key)):
                versions = set(verdict.feed_version.values())  # type: ignore[union-attr]
                if len(versions) != 1 or verdict.action != _expected(min(versions)):
                    bad.append(verdict)
                else:
                    seen.update(versions)

    threads = [threading.Thread(target=screen) for _ in range(2)]
    for t in threads:
        t.start()
    publications: list[Publication] = [client.publication]
    try:
        for version in range(2, ROUNDS + 1):
            _publish_round(static_hub, key, "phone-block" if version % 2 else "phone-warn")
            assert all(r.ok and r.version == version for r in client.sync().values())
            publications.append(client.publication)
            time.sleep(0.05)  # screening threads answer under this publication for a while
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert bad == []
    assert seen == set(range(1, ROUNDS + 1))
    assert len({id(p) for p in publications}) == ROUNDS  # one new publication per sync


class _GatedAdapter(HTTPAdapter):
    """Real HTTP, but manifest requests wait at a gate: a sync stays in progress."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        super().__init__()
        self.entered, self.release = entered, release

    def send(self, request: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - requests' API
        if "manifest.json" in (request.url or ""):
            self.entered.set()
            self.release.wait(30)
        return super().send(request, **kwargs)


@pytest.fixture
def gated(static_hub: StaticHub, tmp_path: Path) -> Iterator[tuple[FeedClient, Any]]:
    """A FeedClient whose session can be gated; the gate always opens at teardown."""
    entered, release = threading.Event(), threading.Event()
    session = requests.Session()
    client = FeedClient(static_hub.url, static_hub.factory.root_public_b64, tmp_path / "s",
                        token=static_hub.token, session=session)
    yield client, (session, entered, release)
    release.set()
    session.close()


def test_check_never_waits_for_a_sync(static_hub: StaticHub, gated: Any) -> None:
    client, (session, entered, release) = gated
    key = phone_key(hash_indicator("phone", NUMBER, static_hub.factory.consortium[1]))
    _publish_round(static_hub, key, "phone-block")
    assert all(r.ok for r in client.sync().values())
    screener = CallScreener(client)
    _publish_round(static_hub, key, "phone-warn")
    session.mount("http://", _GatedAdapter(entered, release))
    syncing = threading.Thread(target=client.sync)
    syncing.start()
    try:
        assert entered.wait(30)  # the sync holds its lock and waits on the network
        answers: list[Verdict] = []
        reader = threading.Thread(target=lambda: answers.extend(
            [screener.check(NUMBER), screener.check_hashed(key)]))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "check() waited for the sync in progress"
        assert [v.action for v in answers] == ["block", "block"]
        assert {v.feed_version["phone-block"] for v in answers} == {1}  # type: ignore[index]
    finally:
        release.set()
        syncing.join(timeout=30)
    assert screener.check(NUMBER).action == "warn"
