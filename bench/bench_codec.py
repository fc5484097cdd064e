"""Measure the .lfa key codec: encode/decode time and bytes per entry (issue 7 targets).

Targets: 10^7 random 64-bit keys encode and decode in <= 3 s each on the 2-core
reference machine, <= 5.5 bytes/entry, and a 1,000-change delta <= 8 KB.
Run: `.venv/bin/python bench/bench_codec.py` (best of `--repeat` runs per size).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from schemas.artifact import decode_artifact, encode_key_delta, encode_key_snapshot


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10**5, 10**6, 10**7])
    args = parser.parse_args()
    import os

    print(f"machine: {platform.platform()}; CPU: {cpu_model()} x{os.cpu_count()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}")
    rng = np.random.default_rng(20261124)
    print(f"{'keys':>10} {'encode s':>9} {'decode s':>9} {'bytes/entry':>12} {'file bytes':>11}")
    for n in args.sizes:
        keys = np.unique(rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True))
        enc_s, blob = best(lambda keys=keys: encode_key_snapshot(keys, 1), args.repeat)
        dec_s, art = best(lambda blob=blob: decode_artifact(blob), args.repeat)
        assert np.array_equal(art.keys, keys)
        print(f"{keys.size:>10} {enc_s:>9.3f} {dec_s:>9.3f} {len(blob) / keys.size:>12.3f} "
              f"{len(blob):>11}")
    base = np.unique(rng.integers(0, 2**64 - 1, 10**6, dtype=np.uint64, endpoint=True))
    removes = np.sort(rng.choice(base, 500, replace=False))
    adds = np.setdiff1d(np.unique(rng.integers(0, 2**64 - 1, 500, dtype=np.uint64)), base)
    enc_s, delta = best(lambda: encode_key_delta(adds, removes, 1, 2), args.repeat)
    dec_s, _ = best(lambda: decode_artifact(delta), args.repeat)
    print(f"delta of {adds.size + removes.size} changes: {len(delta)} bytes, "
          f"encode {enc_s * 1e3:.2f} ms, decode {dec_s * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
