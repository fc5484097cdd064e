"""End to end over real HTTP: screeners survive what operators and networks do to them.

Three "must show" properties of the SDK against the real hub on loopback:

- the hub rotates its feed signing key and a running screener follows with no
  SDK update, no new pinned key and no restart -- during the overlap and after
  the old key has left keys.json;
- while the hub is unreachable, sync fails loudly (`fetch`) but the screener
  keeps answering from the last verified version;
- a compromised copy serving another feed's (validly signed) manifest is
  refused (`wrong_feed`) and the last good data keeps answering.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from click.testing import CliRunner
from werkzeug.serving import BaseWSGIServer, make_server

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub import get_config
from hub.cli import main
from hub.feeds.builder import build_feeds, keystore_for
from schemas.timefmt import utcnow

FIRST = "13812345678"
SECOND = "+86 139 8765 4321"
THIRD = "13712340000"
FOURTH = "13698761234"


def _banks(live_hub: Any, url: str) -> tuple[MemberClient, MemberClient]:
    clients = []
    for _ in range(2):
        member_id, key = live_hub.new_member()
        clients.append(MemberClient(url, key, member_id))
    return clients[0], clients[1]


def _report_both(banks: tuple[MemberClient, MemberClient], number: str) -> None:
    """Two members: one member alone can never make a number `block`."""
    for bank in banks:
        assert bank.report("phone", [number], "fraud", 95).accepted == 1


def _manifest_keyids(url: str, token: str, feed: str) -> list[str]:
    response = requests.get(f"{url}/v1/feeds/{feed}/manifest.json",
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return [s["keyid"] for s in response.json()["signatures"]]


def _keyset_keyids(url: str) -> list[str]:
    response = requests.get(f"{url}/v1/keys.json", timeout=30)
    assert response.status_code == 200, response.text
    return [k["keyid"] for k in response.json()["signed"]["feed_keys"]]


def _cli(app: Any, *args: str) -> str:
    """The operator's command line, against the same data dir and database as the hub."""
    cfg = get_config(app)
    result = CliRunner().invoke(
        main, ["--data-dir", str(cfg.data_dir), "--database-url", cfg.database_url, *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def _all_ok(results: dict[str, Any]) -> bool:
    return all(r.ok for r in results.values())


def test_feed_key_rotation_is_followed_without_an_sdk_update(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    start = utcnow()
    banks = _banks(live_hub, live_hub.url)
    _report_both(banks, FIRST)
    build_feeds(live_hub.app)
    token = banks[0].mint_reader_token()
    feeds = FeedClient(live_hub.url, root_key, tmp_path / "s", token=token)
    screener = CallScreener(feeds)
    assert _all_ok(feeds.sync())
    assert screener.check(FIRST).action == "block"
    old_kid = _manifest_keyids(live_hub.url, token, "phone-block")
    assert len(old_kid) == 1

    # A minute later (builds are minutes apart; see the same-second test below).
    with time_machine.travel(start + timedelta(minutes=1), tick=True):
        out = _cli(live_hub.app, "rotate-feed-key", "--overlap-hours", "1")
        with live_hub.app.app_context():
            new_kid = keystore_for(live_hub.app).current_feed_keyid()
        assert new_kid in out and new_kid != old_kid[0]
        assert set(_keyset_keyids(live_hub.url)) == {old_kid[0], new_kid}  # the overlap

        _report_both(banks, THIRD)
        build_feeds(live_hub.app)
        results = feeds.sync()  # the SAME client: same pinned root, no restart
        assert _all_ok(results), results
        assert results["phone-block"].changed
        assert _manifest_keyids(live_hub.url, token, "phone-block") == [new_kid]
        # every feed was re-signed, not only the one whose content changed
        assert all(_manifest_keyids(live_hub.url, token, f) == [new_kid] for f in results)
        assert screener.check(THIRD).action == "block"
        assert screener.check(FIRST).action == "block"

    # Past the overlap: keys.json no longer announces the old key; sync still works.
    with time_machine.travel(start + timedelta(hours=3), tick=True):
        assert _keyset_keyids(live_hub.url) == [new_kid]
        _report_both(banks, FOURTH)
        build_feeds(live_hub.app)
        results = feeds.sync()
        assert _all_ok(results), results
        assert results["phone-block"].changed
        verdict = screener.check(FOURTH)
        assert verdict.action == "block" and not verdict.stale
        assert screener.check(FIRST).action == "block"
    assert feeds.status()["phone-block"].last_error is None


def test_rotation_in_the_same_second_as_the_last_build_still_resigns(live_hub: Any) -> None:
    now = utcnow().replace(microsecond=0)
    build_feeds(live_hub.app, now=now)
    with live_hub.app.app_context():
        new_kid = keystore_for(live_hub.app).rotate_feed_key(timedelta(hours=1), now=now)
    assert "phone-block" in build_feeds(live_hub.app, now=now).refreshed
    served = Path(get_config(live_hub.app).feeds_dir) / "phone-block" / "manifest.json"
    assert [s["keyid"] for s in json.loads(served.read_bytes())["signatures"]] == [new_kid]


def _serve(app: Any, port: int = 0) -> tuple[BaseWSGIServer, threading.Thread]:
    # Single-threaded: HTTP/1.0, one connection per request, so once shut down no
    # kept-alive connection can keep answering behind the test's back.
    server = make_server("127.0.0.1", port, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="resilience-hub", daemon=True)
    thread.start()
    return server, thread


@contextmanager
def _served(app: Any, port: int = 0) -> Iterator[BaseWSGIServer]:
    server, thread = _serve(app, port)
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_screener_answers_from_last_good_version_while_hub_is_down(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    with _served(live_hub.app) as server:
        port = server.server_port
        url = f"http://127.0.0.1:{port}"
        banks = _banks(live_hub, url)
        _report_both(banks, FIRST)
        build_feeds(live_hub.app)
        feeds = FeedClient(url, root_key, tmp_path / "s", token=banks[0].mint_reader_token(),
                           timeout_s=5)
        screener = CallScreener(feeds)
        assert _all_ok(feeds.sync())
        before = screener.check(FIRST)
        assert before.action == "block" and not before.stale

    # The hub is down: nothing listens on the port any more.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/keys.json", timeout=5)
    results = feeds.sync()
    assert {r.error_code for r in results.values()} == {"fetch"}
    assert not any(r.ok for r in results.values())
    assert results["phone-block"].version == before.feed_version["phone-block"]
    status = feeds.status()["phone-block"]
    assert status.last_error and status.last_error_code == "fetch"
    assert status.version == before.feed_version["phone-block"]
    during = screener.check(FIRST)
    assert during.action == "block"
    assert during.feed_version == before.feed_version

    # Back up (same app, same port) with a new listing: the next sync picks it up.
    with _served(live_hub.app, port):
        _report_both(banks, THIRD)
        build_feeds(live_hub.app)
        results = feeds.sync()
        assert _all_ok(results), results
        assert results["phone-block"].changed
        assert feeds.status()["phone-block"].last_error is None
        assert screener.check(THIRD).action == "block"
        assert screener.check(FIRST).action == "block"
    for bank in banks:
        bank.close()
    feeds.close()


def test_another_feeds_manifest_is_refused_and_last_good_data_answers(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    banks = _banks(live_hub, live_hub.url)
    _report_both(banks, FIRST)
    build_feeds(live_hub.app)
    feeds = FeedClient(live_hub.url, root_key, tmp_path / "s",
                       token=banks[0].mint_reader_token())
    screener = CallScreener(feeds)
    assert _all_ok(feeds.sync())
    before = screener.check(FIRST)
    assert before.action == "block"

    # What a compromised CDN or mirror could serve: a genuine, validly signed
    # manifest -- of another feed -- at phone-block's address.
    feeds_dir = Path(get_config(live_hub.app).feeds_dir)
    target = feeds_dir / "phone-block" / "manifest.json"
    genuine = target.read_bytes()
    target.write_bytes((feeds_dir / "phone-warn" / "manifest.json").read_bytes())

    results = feeds.sync()
    assert not results["phone-block"].ok
    assert results["phone-block"].error_code == "wrong_feed"
    assert results["phone-block"].version == before.feed_version["phone-block"]
    assert all(r.ok for f, r in results.items() if f != "phone-block")
    assert feeds.status()["phone-block"].last_error_code == "wrong_feed"
    during = screener.check(FIRST)
    assert during.action == "block" and during.feed_version == before.feed_version

    target.write_bytes(genuine)
    results = feeds.sync()
    assert _all_ok(results), results
    assert feeds.status()["phone-block"].last_error is None
    assert screener.check(FIRST).feed_version == before.feed_version
