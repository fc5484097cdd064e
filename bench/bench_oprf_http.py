"""OPRF over HTTP (issue 20): a 10,000-element member batch end to end, and the
online screener check on loopback (target p50 <= 5 ms, p99 <= 20 ms).

The real hub (the tests' `serve_hub`: werkzeug, threaded, SQLite in a temp dir,
rate limits off) on 127.0.0.1; clients are `client_sdk.oprf.ObliviousHasher`
(member signature for the batch) and `CallScreener` on a `FeedClient` in OPRF
mode (reader token) for the online check of numbers it has not seen before, so
every check is one blinded round trip with proof verification.

    .venv/bin/python bench/bench_oprf_http.py [--scale 0.1] [--batch 10000]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Figure, bench_parser, emit, machine_info, scaled  # noqa: E402

TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    print(machine_info(), flush=True)
    import logging

    for name in ("werkzeug", "hub.access", "hub"):  # a log line per request otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    from client_sdk.feed_client import FeedClient
    from client_sdk.member_client import MemberClient
    from client_sdk.oprf import ObliviousHasher
    from client_sdk.screener import CallScreener
    from hub.feeds.builder import build_feeds, keystore_for
    from tests.helpers.hub import serve_hub

    tmp = Path(tempfile.mkdtemp(prefix="lf-bench-oprf-"))
    figures: list[Figure] = []
    with serve_hub(f"sqlite:///{tmp / 'hub.sqlite3'}", tmp / "data",
                   ratelimit_enabled="off") as hub:
        member_id, key = hub.new_member()
        bank = MemberClient(hub.url, key, member_id)
        hasher = ObliviousHasher(hub.url, member_id=member_id, private_key=key)
        hasher.refresh_keys()
        numbers = [f"139{n:08d}" for n in range(args.batch)]
        t0 = time.perf_counter()
        got = hasher.values("phone", numbers)
        batch_s = time.perf_counter() - t0
        assert len(got.values) == args.batch
        figures.append(Figure(
            "oprf_http.member_batch_s", f"Member batch of {args.batch:,} over HTTP "
            "(normalise, blind, evaluate with proof, verify, unblind)", batch_s, "s", None,
            "lower", note=f"{args.batch / batch_s:,.0f} numbers/s end to end, wall clock, "
            "client and hub on the same 2 cores"))

        build_feeds(hub.app)
        with hub.app.app_context():
            root = keystore_for(hub.app).root_public_b64()
        feeds = FeedClient(hub.url, root, tmp / "screener", token=bank.mint_reader_token(),
                           hashing="oprf")
        feeds.sync()
        screener = CallScreener(feeds)
        n = scaled(2000, args.scale, minimum=200)
        samples = []
        for i in range(n):
            number = f"136{i:08d}"
            t0 = time.perf_counter_ns()
            verdict = screener.check(number)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
            assert "oprf_offline" not in verdict.reasons, verdict
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        figures.append(Figure(
            "oprf_http.screener_p50_ms", "Online screener check (OPRF mode, loopback), p50",
            p50, "ms", TARGET_P50_MS, "lower", note=f"{n:,} distinct uncached numbers"))
        figures.append(Figure(
            "oprf_http.screener_p99_ms", "Online screener check (OPRF mode, loopback), p99",
            p99, "ms", TARGET_P99_MS, "lower", note="wall clock, one thread"))
        t0 = time.perf_counter_ns()
        for i in range(n):
            screener.check(f"136{i:08d}")
        cached_us = (time.perf_counter_ns() - t0) / n / 1e3
        figures.append(Figure(
            "oprf_http.screener_cached_us", "Screener check of a number already evaluated",
            cached_us, "µs", None, "lower", note="per-epoch cache: no network, no quota"))
        feeds.close()
        hasher.close()
    emit(figures, args.json)


if __name__ == "__main__":
    main()
