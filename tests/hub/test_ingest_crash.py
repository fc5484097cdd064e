"""Crash safety of store-then-merge (issue 15): SIGKILL of the hub and of a worker.

- A `lianfang-hub serve` process (its scheduler's merge consumer running, small
  merge passes so a kill lands mid-merge) is killed at random moments while a
  member streams batches; it is restarted each time.
- `lianfang-hub worker` processes (two at once on PostgreSQL, sharing the queue
  through SKIP LOCKED) are killed at random moments while they drain a backlog.

Afterwards every acknowledged batch (an answer with `state: accepted` reached
the client) is `merged`, each batch's queue count is exactly 0 (a row merged
twice would drive it below 0, a lost one leaves it above), the queue is empty,
every listing equals a from-scratch merge of its reports (re-merging changes
nothing) and the feed journal replays to exactly the membership the listings
imply (no second add of a present value, no remove of an absent one).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from hub import get_config
from hub.db import get_db
from hub.feeds.journal import phone_feed
from hub.models.feed_change import FeedChange
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.report import PendingMerge, ReportBatch
from hub.services import remerge
from tests.helpers.hub import serve_hub
from tests.helpers.hubproc import HubProcess, cli_args, hub_env
from tests.helpers.signed import signed_request
from tests.hub.reports_support import hv, rep

FULL = os.environ.get("LIANFANG_TEST_FULL_LOAD") == "1"
ROUNDS = 8 if FULL else 3
BATCH = 1_500


def _post(url: str, member: tuple[str, Ed25519PrivateKey], items: list[dict]) -> Any:
    member_id, key = member
    body = json.dumps({"reports": items}).encode()
    prepared = signed_request(member_id, key, "POST", url + "/v1/reports", body,
                              headers={"Content-Type": "application/json"})
    with requests.Session() as http:
        return http.send(prepared, timeout=300)


def _items(pool: list[str], rng: random.Random) -> list[dict]:
    """A batch over a shared pool: later batches re-touch indicators earlier ones queued."""
    return [rep(v, confidence=rng.randint(70, 100)) for v in rng.sample(pool, BATCH)]


def _wait_drained(app: Any, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with app.app_context(), get_db(app).new_session(write=False) as session:
            left = session.scalar(select(func.count()).select_from(PendingMerge))
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} queued merges never drained"
        time.sleep(0.2)


def assert_merged_exactly_once(app: Any, acknowledged: set[str]) -> None:
    """The invariants of the module docstring, on the database itself."""
    with app.app_context(), get_db(app).new_session() as session:
        assert session.scalar(select(func.count()).select_from(PendingMerge)) == 0
        batches = {b.id: b for b in session.scalars(select(ReportBatch))}
        assert acknowledged <= set(batches), "an acknowledged batch was lost"
        for batch in batches.values():
            assert batch.pending == 0, (batch.id, batch.pending)
            assert batch.state == "merged" and batch.merged_at is not None, batch.id
        ids = list(session.scalars(select(Indicator.id)))
        # A listing is a function of its reports: re-merging from scratch changes nothing
        # (compared on what a feed depends on; the score decays with the clock).
        before = _verdicts(session)
        remerge.recompute(session, ids, policy=get_config(app).policy)
        assert _verdicts(session) == before
        session.rollback()
        feeds: dict[str, set[str]] = {}
        for feed, value, op in session.execute(
            select(FeedChange.feed, FeedChange.value, FeedChange.op).order_by(FeedChange.id)
        ):
            present = feeds.setdefault(feed, set())
            assert (value in present) == (op == "remove"), (feed, value, op)
            (present.discard if op == "remove" else present.add)(value)
        implied: dict[str, set[str]] = {}
        for kind, value, tier, allowlisted, held in session.execute(
            select(Indicator.kind, Indicator.value, Listing.tier, Listing.allowlisted,
                   Listing.held).join(Listing, Listing.indicator_id == Indicator.id)
        ):
            feed = phone_feed(kind, tier, allowlisted, held)
            if feed is not None:
                implied.setdefault(feed.value, set()).add(value)
        assert {f: v for f, v in feeds.items() if v} == implied


def _verdicts(session: Any) -> dict[int, tuple]:
    session.expire_all()
    return {
        row.indicator_id: (row.tier, row.allowlisted, row.held, row.categories,
                           row.reporter_count)
        for row in session.scalars(select(Listing))
    }


def test_sigkill_of_the_hub_loses_no_acknowledged_batch_and_merges_none_twice(
    tmp_path: Path, db_url: str
) -> None:
    with serve_hub(db_url, tmp_path / "hub", merge_consumer=False) as live_hub:
        _hub_kill_rounds(live_hub, tmp_path, db_url)


def _hub_kill_rounds(live_hub: Any, tmp_path: Path, db_url: str) -> None:
    members = [live_hub.new_member() for _ in range(2)]
    env = {"LIANFANG_SCHEDULER": "1", "LIANFANG_FEED_BUILD_INTERVAL_S": "3600",
           "LIANFANG_MERGE_PASS_SIZE": "150", "LIANFANG_MERGE_LEASE_S": "1",
           "LIANFANG_MERGE_POLL_MS": "20", "LIANFANG_MAX_BATCHES_IN_FLIGHT": "1000"}
    rng = random.Random(secrets.randbits(32))
    pool = [hv() for _ in range(BATCH * 3)]
    acknowledged: set[str] = set()
    log = tmp_path / "hub.log"
    hub = HubProcess(live_hub.data_dir, db_url, log, **env)
    for _round in range(ROUNDS):
        stop = threading.Event()

        def stream(url: str = hub.url, stop: threading.Event = stop) -> None:
            n = 0
            while not stop.is_set():
                try:
                    answer = _post(url, members[n % 2], _items(pool, rng))
                except requests.RequestException:
                    return  # the hub died under us
                n += 1
                if answer.status_code == 200:
                    assert answer.json()["state"] == "accepted"
                    acknowledged.add(answer.json()["batch_id"])

        sender = threading.Thread(target=stream)
        sender.start()
        time.sleep(rng.uniform(0.5, 4.0))
        hub.kill()  # mid-ingest, mid-merge pass or idle: wherever it is
        stop.set()
        sender.join(timeout=120)
        hub = HubProcess(live_hub.data_dir, db_url, log, **env)
    _wait_drained(live_hub.app)
    hub.kill()
    assert acknowledged, "no batch was acknowledged: the test exercised nothing"
    assert_merged_exactly_once(live_hub.app, acknowledged)
    print(f"hub kills: {ROUNDS}, acknowledged batches: {len(acknowledged)}")


def test_sigkill_of_workers_loses_no_merge_and_doubles_none(db_url: str, tmp_path: Path) -> None:
    rng = random.Random(secrets.randbits(32))
    with serve_hub(db_url, tmp_path / "hub", merge_consumer=False,
                   max_batches_in_flight=1000) as live:
        members = [live.new_member() for _ in range(3)]
        pool = [hv() for _ in range(BATCH * 3)]
        acknowledged: set[str] = set()
        for n in range(12):
            answer = _post(live.url, members[n % 3], _items(pool, rng))
            assert answer.status_code == 200, answer.text
            acknowledged.add(answer.json()["batch_id"])
        # Two workers at once on PostgreSQL (they share the queue); SQLite has one writer.
        workers = 2 if db_url.startswith("postgresql") else 1
        env = hub_env(LIANFANG_MERGE_PASS_SIZE="300", LIANFANG_MERGE_POLL_MS="20")
        args = cli_args(live.data_dir, db_url, "worker", "--consumers", str(workers))
        log = (tmp_path / "worker.log").open("ab")
        kills = 0

        def queued() -> int:
            with live.app.app_context(), get_db(live.app).new_session(write=False) as s:
                return int(s.scalar(select(func.count()).select_from(PendingMerge)) or 0)

        try:
            while (left := queued()) > 0:
                procs = [subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
                         for _ in range(workers)]
                started = time.monotonic()  # start-up under load takes seconds: wait for
                while queued() == left and time.monotonic() - started < 60:  # the 1st pass
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 1.5))  # then kill mid-drain, at a random point
                for proc in procs:
                    proc.kill()
                    proc.wait(timeout=30)
                kills += 1
                assert kills < 60, f"{left} queued merges after {kills} worker kills"
        finally:
            log.close()
        assert_merged_exactly_once(live.app, acknowledged)
        print(f"worker kill rounds: {kills} ({workers} worker process(es) each)")
