"""RFC 9497 OPRF/VOPRF cost on one core (issue 20): hub evaluations, batch proofs, client work.

What is measured, all in one thread of this process (schemas/oprf.py over the
system libsodium through pysodium; no HTTP, no database — the hub endpoint adds
those on top):

1. OPRF `BlindEvaluate` on random blinded elements: evaluations per second per
   core (target >= 15,000, issue 20). Every figure is thread CPU time, so that
   other work on a shared machine does not count; wall-clock figures are in the
   notes.
2. VOPRF `BlindEvaluate` of one element with its own proof (the screener path).
3. VOPRF `BlindEvaluateBatch` of 10,000 elements with one proof (the member path),
   and the client's `finalize_batch` for it (proof verification + 10,000 unblinds).
4. Client cost per number: `Blind` + `Finalize` (OPRF), and with proof
   verification (VOPRF, one element).
5. `Evaluate` by a key holder (the "trusted members hold the key" option, and
   the cost an attacker holding the key pays per guess).

Inputs are what an OPRF epoch evaluates: `phone:+86…` strings (docs/FORMATS.md).

    .venv/bin/python bench/bench_oprf.py [--scale 0.1] [--batch 10000]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Figure,
    bench_parser,
    emit,
    machine_info,
    per_call_latency,
    scaled,
)

from schemas.oprf import (  # noqa: E402
    OprfClient,
    OprfServer,
    VoprfClient,
    VoprfServer,
    generate_key_pair,
)

TARGET_OPRF_PER_S = 15_000
T = TypeVar("T")


def phone_inputs(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [f"phone:+861{rng.randrange(30, 100)}{rng.randrange(10**8):08d}".encode()
            for _ in range(count)]


def libsodium_version() -> str:
    import ctypes

    import pysodium

    pysodium.sodium.sodium_version_string.restype = ctypes.c_char_p
    return pysodium.sodium.sodium_version_string().decode()


def best_cpu(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(least thread CPU time, least wall time, last result) over `repeat` runs: CPU time
    is what one core spends, whatever else the shared machine runs meanwhile."""
    cpu: list[float] = []
    wall: list[float] = []
    result: T | None = None
    for _ in range(max(1, repeat)):
        c0, w0 = time.thread_time(), time.perf_counter()
        result = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    assert result is not None
    return min(cpu), min(wall), result


def rate(ns_per_call: float) -> float:
    return 1e9 / ns_per_call if ns_per_call else 0.0


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000,
                        help="elements in the VOPRF batch (issue 20: 10,000)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine_info(), flush=True)
    print(f"libsodium {libsodium_version()} through pysodium (ctypes)", flush=True)
    n = scaled(20_000, args.scale)
    inputs = phone_inputs(n, 20)
    pair = generate_key_pair()
    oprf_server, oprf_client = OprfServer(pair.private_key), OprfClient()
    voprf_server, voprf_client = VoprfServer(pair.private_key), VoprfClient(pair.public_key)
    blinded = [oprf_client.blind(x).element for x in inputs]
    figures: list[Figure] = []

    lat = per_call_latency(oprf_server.blind_evaluate, blinded, batch=100, rounds=1)
    figures.append(Figure(
        "oprf.blind_evaluate_per_s", "OPRF BlindEvaluate per core", rate(lat.cpu_median_ns),
        "evals/s", TARGET_OPRF_PER_S, "higher",
        note=(f"{lat.cpu_median_ns / 1e3:.1f} µs CPU per evaluation (median of batches of 100, "
              f"{lat.calls:,} calls); wall clock {rate(lat.median_ns):,.0f}/s, "
              f"p99 {lat.p99_ns / 1e3:.1f} µs")))

    single = blinded[: max(1000, n // 10)]
    vlat = per_call_latency(voprf_server.blind_evaluate, single, batch=50)
    figures.append(Figure(
        "oprf.voprf_single_per_s", "VOPRF BlindEvaluate of one element with its proof, per core",
        rate(vlat.cpu_median_ns), "evals/s", None, "higher",
        note=f"{vlat.cpu_median_ns / 1e3:.1f} µs CPU each; wall {rate(vlat.median_ns):,.0f}/s"))

    batch_inputs = phone_inputs(args.batch, 21)
    batch_blinded = [voprf_client.blind(x) for x in batch_inputs]
    elements = [b.element for b in batch_blinded]
    cpu_s, wall_s, (evaluated, proof) = best_cpu(
        lambda: voprf_server.blind_evaluate_batch(elements), args.repeat)
    figures.append(Figure(
        "oprf.voprf_batch_s", f"VOPRF BlindEvaluateBatch of {args.batch:,} elements, one proof",
        cpu_s, "s", None, "lower",
        note=f"CPU time, best of {args.repeat}; wall clock {wall_s:.2f} s"))
    figures.append(Figure(
        "oprf.voprf_batch_per_s", f"VOPRF batch evaluation rate ({args.batch:,} per proof), "
        "per core", args.batch / cpu_s, "evals/s", None, "higher",
        note=f"from the batch figure above; wall clock {args.batch / wall_s:,.0f}/s"))

    blinds = [b.blind for b in batch_blinded]
    fin_cpu, fin_wall, outputs = best_cpu(lambda: voprf_client.finalize_batch(
        batch_inputs, blinds, evaluated, elements, proof), max(1, args.repeat - 1))
    assert outputs[0] == voprf_server.evaluate(batch_inputs[0])
    figures.append(Figure(
        "oprf.voprf_finalize_batch_s",
        f"VOPRF client finalize_batch of {args.batch:,} (verify proof + unblind)",
        fin_cpu, "s", None, "lower",
        note=f"CPU time, {args.batch / fin_cpu:,.0f} elements/s; wall clock {fin_wall:.2f} s"))

    client_inputs = inputs[: max(1000, n // 10)]

    # The client's share only: Blind, then Finalize against server answers computed
    # up front (the server's cost is the first figure).
    clat_blind = per_call_latency(oprf_client.blind, client_inputs, batch=50)
    rounds = [(x, b, oprf_server.blind_evaluate(b.element))
              for x, b in ((x, oprf_client.blind(x)) for x in client_inputs)]
    clat_fin = per_call_latency(lambda p: oprf_client.finalize(p[0], p[1].blind, p[2]), rounds,
                                batch=50)
    figures.append(Figure(
        "oprf.client_blind_finalize_us", "OPRF client Blind + Finalize per number",
        (clat_blind.cpu_median_ns + clat_fin.cpu_median_ns) / 1e3, "µs", None, "lower",
        note=(f"Blind {clat_blind.cpu_median_ns / 1e3:.1f} µs + Finalize "
              f"{clat_fin.cpu_median_ns / 1e3:.1f} µs CPU")))

    vpairs = []
    for x in client_inputs[:1000]:
        b = voprf_client.blind(x)
        ev, pr = voprf_server.blind_evaluate(b.element)
        vpairs.append((x, b, ev, pr))
    vfin = per_call_latency(
        lambda p: voprf_client.finalize(p[0], p[1].blind, p[2], p[1].element, p[3]), vpairs,
        batch=50)
    figures.append(Figure(
        "oprf.voprf_client_us", "VOPRF client Blind + Finalize (with proof check) per number",
        (clat_blind.cpu_median_ns + vfin.cpu_median_ns) / 1e3, "µs", None, "lower",
        note=f"Finalize with verification {vfin.cpu_median_ns / 1e3:.1f} µs CPU"))

    elat = per_call_latency(voprf_server.evaluate, inputs, batch=100)
    figures.append(Figure(
        "oprf.evaluate_per_s", "Evaluate by a key holder (no blinding), per core",
        rate(elat.cpu_median_ns), "evals/s", None, "higher",
        note=(f"{elat.cpu_median_ns / 1e3:.1f} µs CPU each: what a guess costs whoever holds "
              "the key, vs ~0.11 µs for HMAC-SHA256")))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
