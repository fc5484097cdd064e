"""Crash faults: SIGKILL during a report batch and during a feed build.

- A hub process killed while it stores a batch leaves the batch wholly stored
  (its `ReportBatch` row and every report) or wholly absent; resending it with
  the same `Idempotency-Key` after a restart stores it exactly once.
- `lianfang-hub build-feeds` killed at random points leaves the previous
  manifest live and valid (checked with the SDK's trust core through the hub's
  keys.json), and the next build succeeds with the exact expected set.

Kill moments are random inside a bounded loop; `LIANFANG_TEST_FULL_LOAD=1`
runs more rounds.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from client_sdk import trust
from hub import get_config
from hub.db import get_db
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds
from hub.models.indicator import Indicator
from hub.models.report import Report, ReportBatch
from schemas.manifest import phone_key
from schemas.timefmt import utcnow
from tests.helpers.hubproc import HubProcess, cli_args, hub_env
from tests.helpers.signed import signed_request
from tests.hub.reports_support import hv, rep, report

FULL = os.environ.get("LIANFANG_TEST_FULL_LOAD") == "1"
ROUNDS = 12 if FULL else 3
BATCH_SIZE = 2_000


# ---------------------------------------------------------------- batch kill


def _post_batch(url: str, member: tuple[str, Ed25519PrivateKey], values: list[str],
                idem: str) -> requests.Response:
    member_id, key = member
    body = json.dumps({"reports": [rep(v) for v in values]}).encode()
    prepared = signed_request(
        member_id, key, "POST", url + "/v1/reports", body,
        headers={"Content-Type": "application/json", "Idempotency-Key": idem},
    )
    with requests.Session() as http:
        return http.send(prepared, timeout=300)


def _stored(app: Any, member_id: str, idem: str, values: list[str]) -> tuple[int, int, int]:
    """(batch rows, reports of that batch, indicators among `values`) in the database."""
    with app.app_context(), get_db(app).new_session(write=False) as s:
        batch_ids = list(s.scalars(select(ReportBatch.id).where(
            ReportBatch.member_id == member_id, ReportBatch.idempotency_key == idem)))
        reports = int(s.scalar(select(func.count()).select_from(Report).where(
            Report.batch_id.in_(batch_ids))) or 0) if batch_ids else 0
        indicators = 0
        for start in range(0, len(values), 500):
            indicators += int(s.scalar(select(func.count()).select_from(Indicator).where(
                Indicator.value.in_(values[start : start + 500]))) or 0)
    return len(batch_ids), reports, indicators


def test_sigkill_during_a_batch_stores_all_of_it_or_none(live_hub, tmp_path: Path,
                                                         db_url: str) -> None:
    """A `serve` process on the live hub's database and data dir, killed mid-batch."""
    member = live_hub.new_member()
    log = tmp_path / "hub.log"
    env = {"LIANFANG_SCHEDULER": "0"}
    rng = random.Random(secrets.randbits(32))
    outcomes = {"stored": 0, "absent": 0}

    # One uninterrupted batch measures how long a batch takes on this machine.
    hub = HubProcess(live_hub.data_dir, db_url, log, **env)
    warm = [hv() for _ in range(BATCH_SIZE)]
    started = time.monotonic()
    assert _post_batch(hub.url, member, warm, "warm-up").status_code == 200
    duration = time.monotonic() - started

    for round_no in range(ROUNDS):
        values = [hv() for _ in range(BATCH_SIZE)]
        idem = f"crash-{round_no}-{secrets.token_hex(4)}"
        answer: dict[str, Any] = {}

        def send(url: str = hub.url, vals: list[str] = values, key: str = idem,
                 out: dict = answer) -> None:
            try:
                out["response"] = _post_batch(url, member, vals, key)
            except requests.RequestException as exc:
                out["error"] = exc

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(rng.uniform(0.0, duration * 1.2))
        hub.kill()
        sender.join(timeout=60)

        batches, reports, indicators = _stored(live_hub.app, member[0], idem, values)
        if batches:
            assert (batches, reports, indicators) == (1, BATCH_SIZE, BATCH_SIZE)
            outcomes["stored"] += 1
        else:
            assert (reports, indicators) == (0, 0), "a half-stored batch survived the kill"
            outcomes["absent"] += 1
        if "response" in answer:  # the answer got out before the kill: it must be stored
            assert answer["response"].status_code == 200 and batches == 1

        # Restart; resending under the same key stores the batch exactly once.
        hub = HubProcess(live_hub.data_dir, db_url, log, **env)
        again = _post_batch(hub.url, member, values, idem)
        assert again.status_code == 200, again.text
        assert again.json()["accepted"] == BATCH_SIZE
        assert _stored(live_hub.app, member[0], idem, values) == (1, BATCH_SIZE, BATCH_SIZE)
    hub.kill()
    print(f"kill outcomes over {ROUNDS} rounds: {outcomes}")


# ---------------------------------------------------------------- build kill


def _verify_live(hub_url: str, app: Any, feed: str) -> tuple[dict[str, Any], set[int]]:
    """The live manifest on disk, checked like a screener would: keys.json from the hub,
    the pinned root, the manifest signature, artifact hashes and the set digest."""
    cfg = get_config(app)
    paths = pub.feed_paths(cfg.feeds_dir, feed)
    now = utcnow()
    from hub.feeds.builder import keystore_for

    root = trust.load_root_key(keystore_for(app).root_public_b64())
    keys_doc = requests.get(hub_url + "/v1/keys.json", timeout=30)
    assert keys_doc.status_code == 200, keys_doc.text
    keyset = trust.verify_keyset(root, keys_doc.content, now, None, 60)
    signed = trust.verify_manifest(keyset, paths.manifest.read_bytes(), feed, now, None, 60)
    refs = trust.plan_update(signed, None, 1 << 30)
    blobs = []
    for ref in refs:
        data = paths.artifact(ref.path).read_bytes()
        trust.check_artifact(ref, data)
        blobs.append(data)
    keys = trust.apply_key_artifacts(None, None, blobs, signed)
    return signed, {int(k) for k in np.asarray(keys)}


def _build_until_not_busy(app: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = build_feeds(app)
        if not result.busy:
            return result
        assert time.monotonic() < deadline, "the killed builder's lease never expired"
        time.sleep(0.5)


def test_sigkill_during_build_keeps_the_previous_manifest_valid(live_hub, db_url: str,
                                                                tmp_path: Path) -> None:
    app = live_hub.app
    a, b = live_hub.new_member(), live_hub.new_member()
    expected: set[int] = set()
    build_feeds(app)
    rng = random.Random(secrets.randbits(32))
    # A short lease, so the next build may take over from a killed one promptly.
    env = hub_env(LIANFANG_SCHEDULER="0", LIANFANG_FEED_LEASE_TTL_S="2")
    cmd = cli_args(live_hub.data_dir, db_url, "build-feeds")
    log = (tmp_path / "build.log").open("ab")

    started = time.monotonic()
    assert subprocess.run(cmd, env=env, stdout=log, stderr=log, timeout=300).returncode == 0
    duration = time.monotonic() - started

    for _round in range(ROUNDS):
        values = [hv() for _ in range(1_500)]
        for member in (a, b):
            assert report(live_hub, member, [rep(v) for v in values]).status_code == 200
        before, before_keys = _verify_live(live_hub.url, app, "phone-block")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        time.sleep(rng.uniform(0.0, duration * 1.1))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

        after, after_keys = _verify_live(live_hub.url, app, "phone-block")
        assert after["version"] >= before["version"]
        if after["version"] == before["version"]:
            assert after_keys == before_keys
        expected |= {phone_key(v) for v in values}
        assert after_keys in (before_keys, expected), "a live manifest with a partial set"
        time.sleep(2.2)  # the killed builder's 2-second lease runs out

    result = _build_until_not_busy(app)
    assert not result.busy
    final, keys = _verify_live(live_hub.url, app, "phone-block")
    assert keys == expected and final["entry_count"] == len(expected)
    log.close()


def test_a_manifest_left_behind_by_a_crash_is_repaired_from_the_database(live_hub) -> None:
    """Kill between the DB commit and the manifest swap, simulated by putting the old
    manifest file back: the next build (and app start) rewrites it from the DB."""
    app = live_hub.app
    a, b = live_hub.new_member(), live_hub.new_member()
    build_feeds(app)
    paths = pub.feed_paths(get_config(app).feeds_dir, "phone-block")
    old = paths.manifest.read_bytes()
    value = hv()
    for member in (a, b):
        report(live_hub, member, [rep(value)])
    assert build_feeds(app).published["phone-block"] >= 2
    new = paths.manifest.read_bytes()
    paths.manifest.write_bytes(old)
    signed, keys = _verify_live(live_hub.url, app, "phone-block")
    assert phone_key(value) not in keys  # old but valid
    assert not build_feeds(app).published
    assert paths.manifest.read_bytes() == new
    assert phone_key(value) in _verify_live(live_hub.url, app, "phone-block")[1]
