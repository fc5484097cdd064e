"""Concurrency: 8 member processes submit distinct reports while the feed builder runs.

Every report must be stored exactly once and be in the next build: the feed's
key set must equal the set computed from the submitted values. Each value is
reported by two members (its group's owner and a neighbour, in different
processes, at about the same time), so the race that matters is the merge of
two concurrent reports on one indicator reaching `block`.

The fast variant (8 x 1,000 reports) runs in the normal suite on SQLite and
PostgreSQL; the full one (8 x 10,000) runs with `LIANFANG_TEST_FULL_LOAD=1`.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import threading
import time
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from hub import get_config
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds
from hub.models.indicator import Indicator
from hub.models.report import Report, ReportBatch
from schemas.manifest import phone_key
from tests.helpers.load_clients import ClientJob, group_values, run_client
from tests.hub.reports_support import count

PROCESSES = 8
BATCH = 250


class BuilderLoop:
    """`build_feeds` in a loop on a thread until stopped; keeps any exception."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.builds = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="builder-loop", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = build_feeds(self.app)
                self.builds += 0 if result.busy else 1
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
            self._stop.wait(0.05)

    def __enter__(self) -> BuilderLoop:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=300)


def _published_keys(app: Any, feed: str) -> set[int]:
    paths = pub.feed_paths(get_config(app).feeds_dir, feed)
    return {int(k) for k in np.asarray(pub.build_key_set_from_artifacts(paths.root))}


def run_load(live_hub: Any, per_client: int) -> None:
    """8 processes x `per_client` reports (half their own group, half a neighbour's)."""
    run = secrets.token_hex(4)
    per_group = per_client // 2
    members = [live_hub.new_member() for _ in range(PROCESSES)]
    jobs = [
        ClientJob(
            hub_url=live_hub.url, member_id=mid, private_key=key.private_bytes_raw(), run=run,
            mine=i, neighbour=(i - 1) % PROCESSES, per_group=per_group, batch_size=BATCH,
        )
        for i, (mid, key) in enumerate(members)
    ]
    ctx = multiprocessing.get_context("spawn")
    with BuilderLoop(live_hub.app) as builder, ctx.Pool(PROCESSES) as pool:
        results = pool.map(run_client, jobs, chunksize=1)
    assert not builder.errors, f"builder failed during the load: {builder.errors[:1]!r}"
    assert [r["accepted"] for r in results] == [per_client] * PROCESSES

    # Exactly once: one row per (member, value), one batch per request body.
    assert count(live_hub, Report) == PROCESSES * per_client
    assert count(live_hub, Indicator) == PROCESSES * per_group
    batches_per_client = -(-per_client // BATCH)
    assert count(live_hub, ReportBatch) == PROCESSES * batches_per_client
    from hub.db import get_db

    with live_hub.app.app_context(), get_db(live_hub.app).new_session(write=False) as s:
        per_indicator = s.execute(
            select(func.count()).select_from(Report).group_by(Report.indicator_id)
        ).scalars().all()
    assert set(per_indicator) == {2}, "every value was reported by exactly two members"

    # The next build reflects every report: the block feed is exactly the expected set.
    build_feeds(live_hub.app)
    expected = {
        phone_key(v) for g in range(PROCESSES) for v in group_values(run, g, per_group)
    }
    assert _published_keys(live_hub.app, "phone-block") == expected
    assert _published_keys(live_hub.app, "phone-warn") == set()


def test_eight_processes_while_the_builder_runs(live_hub) -> None:
    started = time.monotonic()
    run_load(live_hub, per_client=1_000)
    print(f"8 x 1,000 reports: {time.monotonic() - started:.1f} s")


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("LIANFANG_TEST_FULL_LOAD") != "1",
    reason="full 8 x 10,000 load: set LIANFANG_TEST_FULL_LOAD=1",
)
def test_eight_processes_ten_thousand_each_while_the_builder_runs(live_hub) -> None:
    run_load(live_hub, per_client=10_000)
