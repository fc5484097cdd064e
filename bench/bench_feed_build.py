"""Feed build cost: a full snapshot of N entries, and a 1,000-change publish on it.

Measurements per size N (default 10^7 and 10^6, scaled by `--scale`/BENCH_SCALE):

- `snapshot`: the publisher's first version of an N-entry `phone-block` from
  scratch (apply, Rice-encode, SHA-256, write artifact + state, sign, install):
  what a full rebuild costs. Time, tracemalloc peak and VmHWM growth.
- `publisher`: `load_entries` + `prepare_publish` + `install_manifest` for a
  1,000-change delta (990 adds, 10 removes) on the N-entry set (the file side
  alone, no DB). Target <= 1 s, and it should grow with the changes, not N.
- `builder`: the real `hub.feeds.builder.build_feeds` against a SQLite hub whose
  journal already produced an N-entry feed (setup, not timed), then the same
  1,000 journal rows and one timed build. Only for N <= `--builder-max`
  (default 10^6): seeding 10^7 journal rows takes minutes.

- `delta window` (issue 13 item 8): a 200,000-key `phone-warn` where one value
  is toggled per build (the issue's attack: a snapshot cut every 20 builds), 120
  versions; for a screener 1, 5 and 50 versions behind, the bytes one sync
  downloads (manifest + the artifacts the SDK's own `plan_update` picks) divided
  by the versions it catches up, averaged (and the worst) over every target
  version from 60 on — with the window of deltas kept across cuts (50 versions)
  and with the old rule (every delta dropped at a cut) for comparison.

Time is wall clock (best of `--repeat`).

    .venv/bin/python bench/bench_feed_build.py --sizes 1000000 10000000
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Figure,
    bench_parser,
    emit,
    machine_info,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    scaled,
)

from hub.feeds import publisher as pub  # noqa: E402
from hub.feeds.keystore import Keystore  # noqa: E402
from schemas.timefmt import utcnow  # noqa: E402

CHANGES = 1000
REMOVES = 10
MiB = 2**20


def measure(fn: Callable[[], Any]) -> tuple[float, int, int, Any]:
    """(seconds, tracemalloc peak bytes, VmHWM growth bytes, result) of one call."""
    reset_peak_rss()
    rss0 = rss_bytes()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, max(0, peak_rss_bytes() - rss0), result


def random_keys(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, 2**63, size=n, dtype=np.uint64) * 2 + 1)


def bench_publisher(n: int, repeat: int, ks: Keystore) -> Figure:
    base = random_keys(n, 1)
    best = None
    for r in range(repeat):
        paths = pub.feed_paths(tempfile.mkdtemp(prefix="lf-bench-feed-"), "phone-block")
        now = utcnow()
        v1 = pub.publish(paths, "phone-block", None, np.zeros(0, np.uint64), base,
                         np.zeros(0, np.uint64), sign=ks.sign_manifest, now=now).signed
        adds = np.setdiff1d(random_keys(CHANGES - REMOVES, 100 + r), base)
        removes = np.sort(base[:: max(1, base.size // REMOVES)][:REMOVES])

        def step(v1: Any = v1, adds: np.ndarray = adds, removes: np.ndarray = removes,
                 paths: pub.FeedPaths = paths, now: Any = now) -> Any:
            current = pub.load_entries(paths, "phone-block", v1)
            prepared = pub.prepare_publish(paths, "phone-block", v1, current, adds, removes,
                                           sign=ks.sign_manifest, now=now)
            pub.install_manifest(paths, prepared.envelope)
            return prepared

        elapsed, peak, _hwm, prepared = measure(step)
        assert prepared.version == 2 and prepared.signed["deltas"]
        if best is None or elapsed < best[0]:
            best = (elapsed, peak, prepared.artifact_bytes,
                    v1["snapshot"]["size"])
    assert best is not None
    return Figure(f"feed.publish_s.{n}", f"Publish of 1,000 changes on {n:,} entries (files)",
                  best[0], "s", 1.0, "lower",
                  note=f"delta {best[2]:,} B; tracemalloc peak {best[1] / MiB:.0f} MiB; "
                       f"best of {repeat}")


def bench_snapshot(n: int, repeat: int, ks: Keystore) -> Figure:
    base = random_keys(n, 1)
    empty = np.zeros(0, np.uint64)
    best: tuple[float, int, int, Any] | None = None
    for _ in range(repeat):
        paths = pub.feed_paths(tempfile.mkdtemp(prefix="lf-bench-feed-"), "phone-block")
        run = measure(lambda paths=paths: pub.publish(
            paths, "phone-block", None, empty, base, empty, sign=ks.sign_manifest, now=utcnow()))
        if best is None or run[0] < best[0]:
            best = run
    assert best is not None
    elapsed, peak, hwm, prepared = best
    return Figure(f"feed.snapshot_s.{n}", f"Full snapshot build, {n:,} entries", elapsed, "s",
                  note=f"tracemalloc peak {peak / MiB:.0f} MiB, RSS growth {hwm / MiB:.0f} MiB "
                       f"({peak / n:.1f} B/entry); artifact "
                       f"{prepared.artifact_bytes / MiB:.1f} MiB; best of {repeat}; no target",
                  extra={"peak_bytes": peak, "rss_growth_bytes": hwm})


def bench_builder(n: int) -> Figure:
    from sqlalchemy import insert

    from hub.db import get_db
    from hub.feeds.builder import build_feeds
    from hub.models.feed_change import FeedChange
    from tests.helpers.hub import make_hub_app  # the same initialised app the tests use

    data_dir = Path(tempfile.mkdtemp(prefix="lf-bench-hub-"))
    app = make_hub_app(f"sqlite:///{data_dir / 'hub.sqlite3'}", data_dir / "data")
    now = utcnow()
    values = [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in range(n)]

    def journal(rows: list[dict[str, Any]]) -> None:
        with get_db(app).new_session() as session:
            for start in range(0, len(rows), 50_000):
                session.execute(insert(FeedChange), rows[start:start + 50_000])
            session.commit()

    t0 = time.perf_counter()
    journal([{"feed": "phone-block", "value": v, "op": "add", "created_at": now} for v in values])
    build_feeds(app, now=now)
    print(f"builder    N={n:>11,}  setup (journal + first build): {time.perf_counter() - t0:.1f} s")
    fresh = [hashlib.sha256(b"new" + i.to_bytes(8, "big")).hexdigest()
             for i in range(CHANGES - REMOVES)]
    journal([{"feed": "phone-block", "value": v, "op": "add", "created_at": now} for v in fresh]
            + [{"feed": "phone-block", "value": v, "op": "remove", "created_at": now}
               for v in values[:REMOVES]])
    later = now + timedelta(seconds=60)
    elapsed, peak, _hwm, result = measure(lambda: build_feeds(app, now=later))
    assert result.published.get("phone-block") == 2, result
    get_db(app).dispose()
    return Figure(f"feed.build_s.{n}", f"build_feeds with 1,000 journal changes on {n:,} entries",
                  elapsed, "s", 1.0, "lower",
                  note=f"real builder, SQLite, all four feeds; tracemalloc peak "
                       f"{peak / MiB:.0f} MiB")


DELTA_WINDOW_KEYS = 200_000
DELTA_WINDOW_VERSIONS = 120
DELTA_WINDOW = 50
DELTA_LAGS = (1, 5, 50)


def _toggle_history(ks: Keystore, n: int, versions: int, window: int | None
                    ) -> dict[int, tuple[dict[str, Any], int]]:
    """Publish `versions` versions toggling one key per build; version -> (signed, manifest B)."""
    paths = pub.feed_paths(tempfile.mkdtemp(prefix="lf-bench-window-"), "phone-warn")
    empty = np.zeros(0, np.uint64)
    base = random_keys(n, 7)
    now = utcnow()
    prepared = pub.publish(paths, "phone-warn", None, empty, base, empty,
                           sign=ks.sign_manifest, now=now)
    out = {1: (prepared.signed, len(pub.manifest_bytes(prepared.envelope)))}
    toggled = np.array([2], dtype=np.uint64)  # even: never among random_keys' odd keys
    current = base
    for version in range(2, versions + 1):
        present = version % 2 == 0
        adds, removes = (toggled, empty) if present else (empty, toggled)
        floor = None if window is None else max(1, version - window)
        prepared = pub.publish(paths, "phone-warn", prepared.signed, current, adds, removes,
                               sign=ks.sign_manifest, now=now, delta_floor=floor)
        current = prepared.entries
        out[version] = (prepared.signed, len(pub.manifest_bytes(prepared.envelope)))
    return out


def bench_delta_window(ks: Keystore, n: int = DELTA_WINDOW_KEYS,
                       versions: int = DELTA_WINDOW_VERSIONS) -> list[Figure]:
    from client_sdk.trust import plan_update

    figures = []
    runs = {"window": _toggle_history(ks, n, versions, DELTA_WINDOW),
            "old rule": _toggle_history(ks, n, versions, None)}
    snapshot_size = runs["window"][versions][0]["snapshot"]["size"]
    for lag in DELTA_LAGS:
        per: dict[str, tuple[float, float]] = {}
        for mode, history in runs.items():
            costs = []
            for target in range(60, versions + 1):
                signed, manifest_size = history[target]
                plan = plan_update(signed, target - lag, 2**40)
                costs.append((manifest_size + sum(ref.size for ref in plan)) / lag)
            per[mode] = (sum(costs) / len(costs), max(costs))
        mean, worst = per["window"]
        old_mean, old_worst = per["old rule"]
        figures.append(Figure(
            f"feed.delta_window_bytes_per_version.{lag}",
            f"Bytes per version, screener {lag} behind ({n:,}-key feed, one toggle per build)",
            mean, "B",
            note=f"worst {worst:,.0f} B/version; old rule (deltas dropped at each cut): mean "
                 f"{old_mean:,.0f}, worst {old_worst:,.0f} B/version; snapshot "
                 f"{snapshot_size:,} B; window {DELTA_WINDOW} versions; manifest included",
            extra={"worst": worst, "old_mean": old_mean, "old_worst": old_worst}))
        print(f"delta window lag {lag:>2}: {mean:,.0f} B/version (worst {worst:,.0f}); "
              f"old rule {old_mean:,.0f} (worst {old_worst:,.0f})", flush=True)
    return figures


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--builder-max", type=int, default=1_000_000)
    parser.add_argument("--delta-window-only", action="store_true",
                        help="only the delta-window bytes-per-version figures (issue 13 item 8)")
    args = parser.parse_args()
    sizes = args.sizes or sorted({scaled(10**6, args.scale), scaled(10**7, args.scale)})
    print(machine_info(), flush=True)
    ks = Keystore(Path(tempfile.mkdtemp(prefix="lf-bench-keys-")))
    ks.ensure()
    figures: list[Figure] = bench_delta_window(ks)
    for n in ([] if args.delta_window_only else sorted(sizes, reverse=True)):
        figures.append(bench_snapshot(n, args.repeat, ks))
        figures.append(bench_publisher(n, args.repeat, ks))
        if n <= args.builder_max:
            t0 = time.perf_counter()
            figures.append(bench_builder(n))
            print(f"builder at {n:,}: {time.perf_counter() - t0:.0f} s with setup", flush=True)
        print(f"{figures[-1].label}: {figures[-1].value:.3f} s", flush=True)
    emit(figures, args.json)


if __name__ == "__main__":
    main()
