"""How long a small publish takes on a big feed, and how much memory it needs.

Two measurements per size N (default 1,000,000; `--sizes 1000000,10000000`):

- `builder`: the real `hub.feeds.builder.build_feeds` against a SQLite hub whose
  journal already produced an N-entry `phone-block` (setup, not timed), then
  1,000 new journal rows (990 adds, 10 removes) and one timed build. Only with
  `--builder-max` >= N (default 1,000,000): seeding 10M journal rows is slow.
- `publisher`: `prepare_publish` + `install_manifest` for the same 1,000-change
  delta on an N-entry set (the file side alone, no DB).

Time is wall clock (best of `--repeat`); memory is the tracemalloc peak during
the timed step (numpy buffers included) and the process max RSS.

    .venv/bin/python bench/bench_feed_build.py --sizes 1000000,10000000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.feeds import publisher as pub  # noqa: E402
from hub.feeds.keystore import Keystore  # noqa: E402
from schemas.timefmt import utcnow  # noqa: E402

CHANGES = 1000
REMOVES = 10


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"python {platform.python_version()} on {platform.system()} {platform.release()}, "
            f"{os.cpu_count()} CPUs ({cpu}), numpy {np.__version__}")


def measure(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, result


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_keys(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, 2**63, size=n, dtype=np.uint64) * 2 + 1)


def bench_publisher(n: int, repeat: int) -> None:
    base = random_keys(n, 1)
    ks_dir = Path(tempfile.mkdtemp(prefix="lf-bench-keys-"))
    ks = Keystore(ks_dir)
    ks.ensure()
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

        elapsed, peak, prepared = measure(step)
        assert prepared.version == 2 and prepared.signed["deltas"]
        if best is None or elapsed < best[0]:
            best = (elapsed, peak, prepared.artifact_bytes,
                    v1["snapshot"]["size"])
    assert best is not None
    print(f"publisher  N={n:>11,}  1,000 changes: {best[0] * 1000:8.1f} ms  "
          f"tracemalloc peak {best[1] / 2**20:7.1f} MiB  delta {best[2]:,} B  "
          f"snapshot {best[3]:,} B  ({best[3] / n:.2f} B/key)")


def bench_builder(n: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import make_hub_app  # the same initialised app the tests use
    from sqlalchemy import insert

    from hub.db import get_db
    from hub.feeds.builder import build_feeds
    from hub.models.feed_change import FeedChange

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
    elapsed, peak, result = measure(lambda: build_feeds(app, now=later))
    assert result.published.get("phone-block") == 2, result
    print(f"builder    N={n:>11,}  1,000 changes: {elapsed * 1000:8.1f} ms  "
          f"tracemalloc peak {peak / 2**20:7.1f} MiB  (all four feeds, SQLite)")
    get_db(app).dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--builder-max", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine_info())
    for n in (int(s) for s in args.sizes.split(",")):
        bench_publisher(n, args.repeat)
        if n <= args.builder_max:
            bench_builder(n)
        print(f"           max RSS so far {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
