"""The .lfa key codec: encode/decode time and bytes per entry (issue 7 targets).

Targets: a 10^7-entry snapshot <= 5.5 bytes/entry and decoded in <= 3 s on the
2-core reference machine; a 1,000-change delta <= 8 KB. Keys are uniformly
random 64-bit values, which is what HMAC-derived feed keys are.

    .venv/bin/python bench/bench_codec.py [--sizes 100000 1000000 10000000] [--repeat 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, best_of, emit, machine_info, scaled  # noqa: E402

from schemas.artifact import (  # noqa: E402
    decode_artifact,
    encode_key_delta,
    encode_key_snapshot,
)

DELTA_CHANGES = 1000


def random_keys(n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct sorted uniformly random uint64 keys (tops up after unique() drops repeats)."""
    keys = np.unique(rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True))
    while keys.size < n:
        more = rng.integers(0, 2**64 - 1, n - keys.size, dtype=np.uint64, endpoint=True)
        keys = np.unique(np.concatenate([keys, more]))
    return keys


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    args = parser.parse_args()
    sizes = args.sizes or sorted({scaled(n, args.scale) for n in (10**5, 10**6, 10**7)})
    print(machine_info(), flush=True)
    rng = np.random.default_rng(20261124)
    series: list[dict[str, float]] = []
    figures: list[Figure] = []
    base = np.empty(0, dtype=np.uint64)
    for n in sizes:
        keys = random_keys(n, rng)
        enc_s, blob = best_of(lambda keys=keys: encode_key_snapshot(keys, 1), args.repeat)
        dec_s, art = best_of(lambda blob=blob: decode_artifact(blob), args.repeat)
        assert np.array_equal(art.keys, keys)
        series.append({"entries": n, "bytes": len(blob), "bytes_per_entry": len(blob) / n,
                       "encode_s": enc_s, "decode_s": dec_s})
        print(f"{n:>11,} keys: {len(blob) / n:.3f} B/entry, encode {enc_s:.3f} s, "
              f"decode {dec_s:.3f} s", flush=True)
        base = keys
    n = sizes[-1]
    last = series[-1]
    figures += [
        Figure("codec.snapshot_bytes_per_entry", f"Snapshot size, {n:,} entries",
               last["bytes_per_entry"], "B/entry", 5.5, "lower",
               note=f"{last['bytes'] / 2**20:.1f} MiB file; a flat array would be 8 B/entry"),
        Figure("codec.decode_s", f"Snapshot decode, {n:,} entries", last["decode_s"], "s", 3.0,
               "lower", note=f"best of {args.repeat}"),
        Figure("codec.encode_s", f"Snapshot encode, {n:,} entries", last["encode_s"], "s",
               note=f"best of {args.repeat}; no target"),
    ]
    removes = np.sort(rng.choice(base, DELTA_CHANGES // 2, replace=False))
    adds = np.setdiff1d(random_keys(DELTA_CHANGES // 2, rng), base)
    enc_s, delta = best_of(lambda: encode_key_delta(adds, removes, 1, 2), args.repeat)
    dec_s, _ = best_of(lambda: decode_artifact(delta), args.repeat)
    figures += [
        Figure("codec.delta_bytes", f"Delta of {adds.size + removes.size:,} changes "
               f"({adds.size} adds, {removes.size} removes)", len(delta), "B", 8192, "lower",
               note=f"encode {enc_s * 1e3:.2f} ms, decode {dec_s * 1e3:.2f} ms"),
    ]
    emit(figures, args.json, extras={"codec_series": series})


if __name__ == "__main__":
    main()
