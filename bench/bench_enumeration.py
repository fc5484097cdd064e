"""What a leaked hashing key costs its victims: HMAC-SHA256 enumeration rates (issue 14).

A screener holds each epoch's **phone** key (docs/THREAT_MODEL.md, "Compromised
screener"). Phone numbers and ID numbers are small spaces, so whoever holds the
key reverses the listed values by hashing every candidate. This module measures
the rate per core, with a 32-byte key and the exact wire input
(`phone:+86…`, `id_number:…`, schemas/indicators.py), three ways:

1. the SDK's own `hash_normalized` (Python, one call per value);
2. `hmac.digest` one-shot (OpenSSL's HMAC from Python: a lazy attacker);
3. a compiled C loop (built here with gcc against libcrypto) that precomputes the
   key's inner and outer SHA-256 states once, then spends two SHA-256
   compressions per candidate and compares the 64-bit feed key against a
   planted target -- what a competent attacker runs. It must find the planted
   number, so the figure is a real enumeration, not a formula.

From the C rate: CPU time to enumerate the 5.2 x 10^9 mainland mobile numbers,
and the review's ID-number space (18 Beijing district codes x 30 birth years x
1,000 sequence numbers; x 365 birth days when the date is unknown). The ID space
with a known birth date is also enumerated end to end in Python with a planted
ID number, measured. All rates are thread CPU time (one core), so a loaded
shared machine does not distort them; multiply by cores for wall time.

    .venv/bin/python bench/bench_enumeration.py [--scale 0.1]
"""

from __future__ import annotations

import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info, scaled  # noqa: E402

from schemas.enums import IndicatorKind  # noqa: E402
from schemas.indicators import _ID_CHECK, _ID_WEIGHTS, hash_normalized  # noqa: E402

MOBILE_SPACE = 5.2e9
"""Mainland mobile numbers in allocated prefixes (the review's figure)."""
BEIJING_DISTRICTS = (
    "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
    "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119",
    "110228", "110229",
)
BIRTH_YEARS = range(1970, 2000)
SEQUENCES = 1000
ID_SPACE_KNOWN_DATE = len(BEIJING_DISTRICTS) * len(BIRTH_YEARS) * SEQUENCES
ID_SPACE_UNKNOWN_DATE = ID_SPACE_KNOWN_DATE * 365

C_SOURCE = r"""
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* argv: key hex (64), first 10-digit national number after +86, count, target hex (16) */
int main(int argc, char **argv) {
    unsigned char key[32], ipad[64], opad[64], inner[32], out[32];
    unsigned long long target = strtoull(argv[4], NULL, 16), first = strtoull(argv[2], 0, 10);
    long count = atol(argv[3]), hits = 0, hit_at = -1;
    for (int i = 0; i < 32; i++) sscanf(argv[1] + 2 * i, "%2hhx", &key[i]);
    memset(ipad, 0x36, 64); memset(opad, 0x5c, 64);
    for (int i = 0; i < 32; i++) { ipad[i] ^= key[i]; opad[i] ^= key[i]; }
    SHA256_CTX ki, ko, c;
    SHA256_Init(&ki); SHA256_Update(&ki, ipad, 64);
    SHA256_Init(&ko); SHA256_Update(&ko, opad, 64);
    char msg[32];
    int prefix = snprintf(msg, sizeof msg, "phone:+86");
    char *digits = msg + prefix;
    snprintf(digits, 12, "%011llu", first);
    int len = prefix + 11;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (long n = 0; n < count; n++) {
        c = ki; SHA256_Update(&c, msg, len); SHA256_Final(inner, &c);
        c = ko; SHA256_Update(&c, inner, 32); SHA256_Final(out, &c);
        unsigned long long k = 0;
        for (int b = 0; b < 8; b++) k = (k << 8) | out[b];
        if (k == target) { hits++; hit_at = n; }
        for (int d = 10; d >= 0; d--) {
            if (digits[d] != '9') { digits[d]++; break; }
            digits[d] = '0';
        }
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%ld %ld %.6f\n", hits, hit_at, s);
    return 0;
}
"""


def cpu_rate(fn: object, inputs: list[bytes]) -> float:
    """Calls per second of thread CPU time for `fn(value)` over `inputs`."""
    call = fn  # type: ignore[assignment]
    c0 = time.thread_time()
    for value in inputs:
        call(value)  # type: ignore[operator]
    return len(inputs) / max(time.thread_time() - c0, 1e-9)


def id_numbers(district: str, year: int, month_day: str) -> list[str]:
    """The 1,000 valid IDs of one district, birth date and sequence range (check char computed)."""
    out = []
    for seq in range(SEQUENCES):
        body = f"{district}{year}{month_day}{seq:03d}"
        total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
        out.append(body + _ID_CHECK[total % 11])
    return out


def compiled_rate(key: bytes, count: int) -> tuple[float, str] | None:
    """(candidates per CPU second, note) of the C loop, which must find a planted number."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "enum.c", Path(tmp) / "enum"
        src.write_text(C_SOURCE)
        built = subprocess.run([gcc, "-O2", "-o", str(exe), str(src), "-lcrypto"],
                               capture_output=True, text=True)
        if built.returncode:
            return None
        first = 13800000000
        planted = first + count - 7  # near the end: the loop must really get there
        target = hash_normalized(IndicatorKind.PHONE, f"+86{planted}", key)[:16]
        answer = subprocess.run([str(exe), key.hex(), str(first), str(count), target],
                                capture_output=True, text=True, check=True).stdout.split()
        hits, hit_at, seconds = int(answer[0]), int(answer[1]), float(answer[2])
        assert hits >= 1 and first + hit_at == planted, "the C loop missed the planted number"
        return count / seconds, (
            f"gcc -O2, libcrypto SHA256 with precomputed pads; found the planted number "
            f"after {count:,} candidates in {seconds:.2f} s CPU")


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    print(machine_info(), flush=True)
    key = os.urandom(32)
    n = scaled(400_000, args.scale, minimum=20_000)
    phones = [f"+861{3 + i % 7}{i:09d}"[:14] for i in range(n)]
    figures: list[Figure] = []

    sdk = cpu_rate(lambda c: hash_normalized(IndicatorKind.PHONE, c, key), phones)
    figures.append(Figure(
        "enum.sdk_hmac_per_s", "HMAC-SHA256 per core, SDK hash_normalized (Python)", sdk,
        "HMAC/s", None, "higher",
        note=f"mobile space {MOBILE_SPACE / sdk / 3600:.1f} CPU-hours at this rate"))
    wire = [f"phone:{c}".encode() for c in phones]
    oneshot = cpu_rate(lambda m: hmac.digest(key, m, "sha256"), wire)
    figures.append(Figure(
        "enum.hmac_digest_per_s", "HMAC-SHA256 per core, hmac.digest one-shot (Python)",
        oneshot, "HMAC/s", None, "higher",
        note=f"mobile space {MOBILE_SPACE / oneshot / 60:.0f} CPU-minutes at this rate"))

    best = oneshot
    compiled = compiled_rate(key, scaled(30_000_000, args.scale, minimum=3_000_000))
    if compiled is not None:
        best, note = compiled
        figures.append(Figure(
            "enum.c_hmac_per_s", "HMAC-SHA256 per core, compiled attacker loop (C)", best,
            "HMAC/s", None, "higher", note=note))
    cores = os.cpu_count() or 1
    figures.append(Figure(
        "enum.mobile_space_cpu_min", "Enumerate all 5.2e9 mainland mobile numbers, one core",
        MOBILE_SPACE / best / 60, "CPU-min", None, "lower",
        note=(f"at {best:,.0f} HMAC/s; {MOBILE_SPACE / best / 60 / cores:.1f} min wall on this "
              f"machine's {cores} cores, ~{MOBILE_SPACE / best / 60 / 16:.1f} min on 16")))
    figures.append(Figure(
        "enum.id_space_unknown_date_s",
        "Enumerate 18 districts x 30 years x 365 days x 1,000 ID numbers, one core",
        ID_SPACE_UNKNOWN_DATE / best, "CPU-s", None, "lower",
        note=f"{ID_SPACE_UNKNOWN_DATE:,} candidates at {best:,.0f} HMAC/s"))
    figures.append(Figure(
        "enum.id_space_known_date_s",
        "Enumerate 18 districts x 30 years x 1,000 ID numbers (birth date known), one core",
        ID_SPACE_KNOWN_DATE / best, "CPU-s", None, "lower",
        note=f"{ID_SPACE_KNOWN_DATE:,} candidates at {best:,.0f} HMAC/s"))

    # End to end in Python, no extrapolation: recover a planted ID number from its hash.
    planted = id_numbers("110108", 1987, "0307")[421]
    target = hash_normalized(IndicatorKind.ID_NUMBER, planted, key)
    c0, w0 = time.thread_time(), time.perf_counter()
    found = None
    for district in BEIJING_DISTRICTS:
        for year in BIRTH_YEARS:
            for candidate in id_numbers(district, year, "0307"):
                if hmac.digest(key, b"id_number:" + candidate.encode(), "sha256").hex() == target:
                    found = candidate
    cpu_s, wall_s = time.thread_time() - c0, time.perf_counter() - w0
    assert found == planted
    figures.append(Figure(
        "enum.id_recovered_python_s",
        "Recover a planted ID number, birth date known (Python, end to end)", cpu_s, "CPU-s",
        None, "lower",
        note=(f"{ID_SPACE_KNOWN_DATE:,} candidates incl. building each ID and its check "
              f"character; wall {wall_s:.2f} s")))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
