"""SDK figures on a real hub and a real FeedClient: check latency, memory, load, delta sync.

Per list size N (10^5, 10^6, 10^7 by default, scaled by `--scale`):

1. A gunicorn hub on SQLite publishes an N-entry `phone-block` (the publisher's
   state and the feed's DB row are seeded directly: journalling 10^7 reports
   through ingest would take far longer than the rest of the suite; every later
   step is the real code). The keys are random, plus the phone keys of 1,000
   known numbers, so raw checks hit as well as miss.
2. A `FeedClient` syncs it over HTTP (snapshot), then a *second* FeedClient is
   constructed on the same state dir: that constructor is the **cold load**
   (state.json, mmap, SHA-256 re-check against the signed `set_digest`; the
   page cache is warm), and VmRSS before/after it, after every key page was
   touched, is the **resident memory per entry**.
3. `CallScreener.check_hashed` on 64-bit keys and `CallScreener.check` on raw
   numbers in everyday spellings (half listed), median and p99 per call from
   batches of 100 calls.
4. 1,000 journal changes (990 adds, 10 removes), one real `build_feeds`, then
   the client's `sync()` — manifest polls for the three feeds, delta download,
   verification, apply, digest, atomic store write — timed end to end on
   loopback (profiled once more at the largest N).

Targets (issue 7, tightened by issue 15): check_hashed median <= 0.8 µs, check
<= 15 µs, resident memory <= 10 B/entry, cold load <= 1 s, delta sync <= 60 ms.

    .venv/bin/python bench/bench_sdk.py [--sizes 100000 1000000 10000000]
"""

from __future__ import annotations

import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Figure,
    Latency,
    bench_parser,
    emit,
    machine_info,
    per_call_latency,
    rss_bytes,
    scaled,
)
from hubproc import served_hub  # noqa: E402

FEED = "phone-block"
KNOWN = 1000
CHANGES = 1000
REMOVES = 10


def mobile_numbers(count: int, seed: int) -> list[str]:
    """Random valid mainland mobiles in the spellings people and switches use."""
    rng = random.Random(seed)
    prefixes = ["138", "139", "135", "136", "137", "150", "151", "158", "186", "188", "177"]
    out = []
    for i in range(count):
        p, a, b = rng.choice(prefixes), f"{rng.randrange(10**4):04d}", f"{rng.randrange(10**4):04d}"
        out.append([f"{p}{a}{b}", f"+86 {p} {a} {b}", f"{p}-{a}-{b}", f"+86{p}{a}{b}"][i % 4])
    return out


def seed_feed(app: Any, keys: np.ndarray) -> dict[str, Any]:
    """Publish `keys` as the next `phone-block` version exactly as the builder would
    (artifacts, state file, signed manifest, FeedState row, history row)."""
    from hub import get_config
    from hub.db import get_db
    from hub.feeds import builder
    from hub.feeds import publisher as pub
    from hub.models.feed import FeedVersion
    from hub.services.consortium_keys import config_wrapping_key
    from schemas.timefmt import utcnow

    now = utcnow()
    with app.app_context():
        builder.build_feeds(app, now=now)  # version 1 of every feed (empty)
        cfg = get_config(app)
        ks = builder.keystore_for(app)
        paths = pub.feed_paths(cfg.feeds_dir, FEED)
        with get_db(app).new_session(write=True) as session:
            row = builder._state_row(session, FEED, now)
            previous = json.loads(row.manifest)["signed"]
            empty = np.zeros(0, np.uint64)
            epochs = builder.key_epochs(session, config_wrapping_key(cfg))
            prepared = pub.prepare_publish(paths, FEED, previous, empty, keys, empty,
                                           sign=ks.sign_manifest, now=now, key_epochs=epochs)
            builder._claim(session, row, row.version, version=prepared.version,
                           entry_count=prepared.entry_count,
                           manifest=json.dumps(prepared.envelope), updated_at=now)
            session.add(FeedVersion(feed=FEED, version=prepared.version, published_at=now,
                                    entry_count=prepared.entry_count,
                                    bytes=prepared.artifact_bytes))
            session.commit()
        pub.install_manifest(paths, prepared.envelope)
    return prepared.signed


def consortium(app: Any) -> tuple[int, bytes]:
    from hub import get_config
    from hub.db import get_db
    from hub.services.consortium_keys import active_keys, config_wrapping_key

    with app.app_context(), get_db(app).new_session() as session:
        keys = active_keys(session, config_wrapping_key(get_config(app)))
    epoch = max(keys)
    return epoch, keys[epoch]


def phone_key_of(number: str, key: bytes) -> int:
    from schemas.indicators import hash_indicator
    from schemas.manifest import phone_key

    return phone_key(hash_indicator("phone", number, key))


def journal_changes(app: Any, removes: np.ndarray, adds_hex: list[str]) -> None:
    from sqlalchemy import insert

    from hub.db import get_db
    from hub.models.feed_change import FeedChange
    from schemas.timefmt import utcnow

    now = utcnow()
    rows = [{"feed": FEED, "value": f"{int(k):016x}" + "0" * 48, "op": "remove",
             "created_at": now} for k in removes]
    rows += [{"feed": FEED, "value": v, "op": "add", "created_at": now} for v in adds_hex]
    with get_db(app).new_session() as session:
        session.execute(insert(FeedChange), rows)
        session.commit()


def bench_size(n: int, profile_delta: bool, rounds: int) -> dict[str, Any]:
    from client_sdk.feed_client import FeedClient
    from client_sdk.member_client import MemberClient
    from client_sdk.screener import CallScreener
    from hub.feeds.builder import build_feeds, keystore_for

    rng = np.random.default_rng(n)
    result: dict[str, Any] = {"entries": n}
    with served_hub("sqlite", workers=2) as hub:
        member_id, key = hub.new_member()
        epoch, ckey = consortium(hub.app)
        numbers = mobile_numbers(2 * KNOWN, seed=n)
        listed = numbers[::2]
        known = np.array([phone_key_of(x, ckey) for x in listed], dtype=np.uint64)
        keys = np.unique(np.concatenate(
            [rng.integers(0, 2**64 - 1, n - KNOWN, dtype=np.uint64, endpoint=True), known]))
        t0 = time.perf_counter()
        signed = seed_feed(hub.app, keys)
        result["seed_s"] = time.perf_counter() - t0
        result["snapshot_bytes"] = int(signed["snapshot"]["size"])
        with hub.app.app_context():
            root = keystore_for(hub.app).root_public_b64()
        token = MemberClient(hub.url, key, member_id).mint_reader_token()
        state = Path(tempfile.mkdtemp(prefix="lf-bench-sdk-"))
        first = FeedClient(hub.url, root, state, token=token)
        t0 = time.perf_counter()
        synced = first.sync()
        result["snapshot_sync_s"] = time.perf_counter() - t0
        assert all(r.ok for r in synced.values()), synced
        first.close()
        del first, synced
        gc.collect()

        rss0 = rss_bytes()
        t0 = time.perf_counter()
        client = FeedClient(hub.url, root, state, token=token)
        result["cold_load_s"] = time.perf_counter() - t0
        view = client.view(FEED)
        assert view is not None and view.keys.size == keys.size
        int(np.bitwise_xor.reduce(view.keys))  # touch every page, as a day of checks would
        screener = CallScreener(client)
        screener.check_hashed(0)  # builds the screener's prefix index: counted too
        result["rss_bytes"] = rss_bytes() - rss0

        hits = rng.choice(keys, 5000)
        misses = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
        hashed_inputs = [int(k) for pair in zip(hits, misses, strict=True) for k in pair]
        assert screener.check_hashed(int(hits[0])).action == "block"
        raw_inputs = numbers * 5
        assert screener.check(listed[0]).action == "block"
        lat_h = per_call_latency(screener.check_hashed, hashed_inputs, rounds=rounds)
        lat_r = per_call_latency(screener.check, raw_inputs, rounds=rounds)
        result["hashed"], result["raw"] = lat_h.__dict__, lat_r.__dict__

        # At every size: the series shows what the sync time grows with.
        removes = np.sort(rng.choice(keys, REMOVES, replace=False))
        adds = [f"{int(k):016x}" + "f" * 48
                for k in rng.integers(0, 2**64 - 1, CHANGES - REMOVES, dtype=np.uint64)]
        journal_changes(hub.app, removes, adds)
        with hub.app.app_context():
            built = build_feeds(hub.app)
        assert FEED in built.published, built
        t0 = time.perf_counter()
        delta = client.sync()
        result["delta_sync_s"] = time.perf_counter() - t0
        assert delta[FEED].ok and delta[FEED].changed, delta
        manifest = json.loads(
            hub.http.get(f"{hub.url}/v1/feeds/{FEED}/manifest.json", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}).content)["signed"]
        result["delta_bytes"] = int(manifest["deltas"][-1]["size"])
        assert client.view(FEED).keys.size == keys.size + CHANGES - 2 * REMOVES
        if profile_delta:
            result["delta_profile"] = profile_second_delta(hub, client, rng)
        client.close()
    return result


def profile_second_delta(hub: Any, client: Any, rng: np.random.Generator) -> str:
    """pyinstrument text of another 1,000-change delta sync: where the milliseconds go."""
    from pyinstrument import Profiler

    from hub.feeds.builder import build_feeds

    current = np.asarray(client.view(FEED).keys)
    removes = np.sort(rng.choice(current, REMOVES, replace=False))
    adds = [f"{int(k):016x}" + "e" * 48
            for k in rng.integers(0, 2**64 - 1, CHANGES - REMOVES, dtype=np.uint64)]
    journal_changes(hub.app, removes, adds)
    with hub.app.app_context():
        build_feeds(hub.app)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    client.sync()
    profiler.stop()
    return profiler.output_text(color=False, show_all=False)


def fast_path_check(rounds: int) -> tuple[Latency, Latency]:
    """normalize_phone on mobiles (fast path) vs landlines (phonenumbers)."""
    from schemas.indicators import _phone_fast, normalize_phone

    mobiles = mobile_numbers(2000, seed=7)
    assert all(_phone_fast(m, "CN") is not None for m in mobiles)
    landlines = ["+86 10 9558 8000", "010 9558 8000", "(021) 6234 5678", "0755-8888 9999"] * 500
    assert all(_phone_fast(x, "CN") is None for x in landlines)
    return (per_call_latency(normalize_phone, mobiles, rounds=rounds),
            per_call_latency(normalize_phone, landlines, rounds=rounds))


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the check inputs")
    args = parser.parse_args()
    sizes = sorted(args.sizes or {scaled(n, args.scale, 10_000) for n in (10**5, 10**6, 10**7)})
    print(machine_info(), flush=True)
    series = []
    for n in sizes:
        r = bench_size(n, profile_delta=n == sizes[-1], rounds=args.rounds)
        print(json.dumps(r), flush=True)
        series.append(r)
    big = series[-1]
    n = big["entries"]
    fast, slow = fast_path_check(args.rounds)
    figures = [
        Figure("sdk.check_hashed_us", f"check_hashed() median, {n:,}-entry feed",
               big["hashed"]["median_ns"] / 1000, "µs", 0.8, "lower",
               note=f"p99 {big['hashed']['p99_ns'] / 1000:.2f} µs over "
                    f"{big['hashed']['calls']:,} calls (half hits); thread CPU time median "
                    f"{big['hashed']['cpu_median_ns'] / 1000:.2f} µs"),
        Figure("sdk.check_raw_us", f"check() median on a raw number, {n:,}-entry feed",
               big["raw"]["median_ns"] / 1000, "µs", 15.0, "lower",
               note=f"p99 {big['raw']['p99_ns'] / 1000:.2f} µs; thread CPU time median "
                    f"{big['raw']['cpu_median_ns'] / 1000:.2f} µs; normalise + HMAC + lookups, "
                    "four mainland spellings, half listed"),
        Figure("sdk.normalize_fast_us", "normalize_phone median, mainland mobile (fast path)",
               fast.median_ns / 1000, "µs",
               note=f"vs {slow.median_ns / 1000:.1f} µs for landlines through phonenumbers "
                    f"({slow.median_ns / fast.median_ns:.0f}× slower): the fast path is in use"),
        Figure("sdk.rss_bytes_per_entry", f"Resident memory per entry, {n:,}-entry feed",
               big["rss_bytes"] / n, "B/entry", 10.0, "lower",
               note=f"VmRSS +{big['rss_bytes'] / 2**20:.0f} MiB for FeedClient load "
                    "with every key page touched (mmap of the flat uint64 store) plus the "
                    "screener's prefix index"),
        Figure("sdk.cold_load_s", f"Cold load (FeedClient constructor), {n:,} entries",
               big["cold_load_s"], "s", 1.0, "lower",
               note="mmap + SHA-256 re-check of the store against the signed set_digest; "
                    "page cache warm"),
    ]
    if "delta_sync_s" in big:
        figures.append(Figure(
            "sdk.delta_sync_ms", f"Delta sync of {CHANGES:,} changes on {n:,} entries, end to end",
            big["delta_sync_s"] * 1000, "ms", 60.0, "lower",
            note=f"real hub (gunicorn) on loopback, real FeedClient.sync() of 3 feeds; delta "
                 f"artifact {big['delta_bytes']:,} B"))
    figures.append(Figure("sdk.snapshot_sync_s", f"First sync (snapshot) of {n:,} entries",
                          big["snapshot_sync_s"], "s",
                          note=f"snapshot artifact {big['snapshot_bytes'] / 2**20:.1f} MiB; "
                               "no target"))
    sections = {"delta_sync_profile": big.pop("delta_profile")} if "delta_profile" in big else {}
    emit(figures, args.json, extras={"sdk_series": series}, sections=sections)


if __name__ == "__main__":
    main()
