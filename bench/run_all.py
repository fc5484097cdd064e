"""Run every bench module and write bench/RESULTS.md and bench/chart.png (`make bench`).

Each module runs in its own process (`--json` hand-off, see bench/common.py) so
memory figures are its own and one failure does not lose the others: a failed
module is listed in RESULTS.md with its error instead of figures.

    .venv/bin/python bench/run_all.py [--scale 0.1] [--only codec sdk] [--out bench/RESULTS.md]

`BENCH_SCALE` (or `--scale`) multiplies list sizes, batch counts and durations;
1 is the issue 7 configuration (10^7-entry feeds) and finishes in under 10
minutes on the 2-core reference machine when nothing else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    Figure,
    fmt_value,
    git_commit,
    load_figures,
    machine_info,
    target_text,
)

BENCH = ROOT / "bench"
PY = ROOT / ".venv" / "bin" / "python"
if not PY.exists():  # a git worktree without its own venv: the interpreter running this
    PY = Path(sys.executable)
MODULES: dict[str, list[str]] = {
    "codec": ["bench_codec.py"],
    "feed_build": ["bench_feed_build.py"],
    "sdk": ["bench_sdk.py"],
    "ingest": ["bench_ingest.py"],
    "peers": ["bench_peers.py"],
    "serving": ["bench_serving.py"],
    "oprf": ["bench_oprf.py"],
    "oprf_http": ["bench_oprf_http.py"],
    "audit": ["bench_audit.py"],
    "enumeration": ["bench_enumeration.py"],
    "campaigns": ["bench_campaigns.py"],
    "groups": ["bench_groups.py"],
}
"""Module name → script and default arguments; `--scale` is appended."""

HEADINGS = {
    "codec": "Compact transfer encoding (Golomb–Rice)",
    "feed_build": "Feed build",
    "sdk": "SDK: call screening, memory, load, delta sync",
    "ingest": "Ingest through the signed HTTP batch API",
    "serving": "Serving: conditional manifest polls",
    "oprf": "Oblivious hashing: RFC 9497 OPRF/VOPRF, ristretto255-SHA512 (issue 20)",
    "oprf_http": "Oblivious hashing over HTTP: member batch and online screener (issue 20)",
    "enumeration": "What a leaked hashing key reveals: HMAC-SHA256 enumeration (issue 14)",
    "campaigns": "Complaint templates: keyed MinHash matching on a synthetic corpus (issue 17)",
    "groups": "Complaint cases: cost against the group size (issue 13 item 7)",
}


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_module(name: str, scale: float, extra: list[str]) -> dict[str, Any]:
    """Run one bench script; returns its JSON payload plus the command, time and errors."""
    script, *args = MODULES[name]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [str(PY), str(BENCH / script), *args, "--scale", str(scale), *extra]
    shown = " ".join([".venv/bin/python", f"bench/{script}", *args, "--scale", str(scale),
                      *extra])
    print(f"== {name}: {shown}", flush=True)
    t0 = time.perf_counter()
    load_before = load_average()
    proc = subprocess.run([*cmd, "--json", str(out)], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - t0
    print(proc.stdout[-3000:], flush=True)
    payload: dict[str, Any] = {"figures": [], "extras": {}, "sections": {}}
    if proc.returncode == 0 and out.stat().st_size:
        payload = json.loads(out.read_text())
    out.unlink(missing_ok=True)
    payload.update(name=name, command=shown, seconds=elapsed, returncode=proc.returncode,
                   load=f"{load_before} → {load_average()}",
                   error=None if proc.returncode == 0 else proc.stdout[-1500:])
    for fig in payload["figures"]:
        fig["command"] = shown
    return payload


# ------------------------------------------------------------------- chart


def draw_chart(results: list[dict[str, Any]], path: Path) -> bool:
    """Check latency and feed size against list size (log-log), from the SDK series."""
    series = next((r["extras"].get("sdk_series") for r in results if r["name"] == "sdk"), None)
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [s["entries"] for s in series]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(n, [s["hashed"]["median_ns"] / 1000 for s in series], "o-",
             label="check_hashed() median")
    ax1.plot(n, [s["hashed"]["p99_ns"] / 1000 for s in series], "o:", label="check_hashed() p99")
    ax1.plot(n, [s["raw"]["median_ns"] / 1000 for s in series], "s-", label="check() raw median")
    ax1.plot(n, [s["raw"]["p99_ns"] / 1000 for s in series], "s:", label="check() raw p99")
    ax1.axhline(1, color="grey", lw=0.8, ls="--")
    ax1.axhline(15, color="grey", lw=0.8, ls="--")
    ax1.set(xscale="log", yscale="log", xlabel="feed entries", ylabel="µs per call",
            title="Call screening latency (dashed: targets 1 and 15 µs)", ylim=(0.3, 2000))
    ax1.legend(fontsize=8, loc="upper center", ncol=2)
    ax2.plot(n, [s["snapshot_bytes"] / 2**20 for s in series], "o-",
             label="snapshot artifact (Golomb–Rice)")
    ax2.plot(n, [8 * x / 2**20 for x in n], "--", label="flat uint64 store (8 B/entry)")
    ax2.plot(n, [s["rss_bytes"] / 2**20 for s in series], "^-", label="SDK resident memory")
    ax2.set(xscale="log", yscale="log", xlabel="feed entries", ylabel="MiB",
            title="Feed size and SDK memory")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ----------------------------------------------------------------- results


def figure_row(fig: Figure) -> str:
    return (f"| {fig.label} | **{fmt_value(fig.value)} {fig.unit}** | {target_text(fig)} | "
            f"{fig.verdict()} | {fig.note} |")


def explain(figures: list[Figure]) -> list[str]:
    """A 'why' paragraph for every missed target, from what the benches measured."""
    lines: list[str] = []
    for fig in figures:
        if fig.met is not False:
            continue
        why = EXPLAINED.get(fig.key.split(".")[0] + "." + fig.key.split(".")[1], "")
        lines.append(f"- **{fig.label}: {fig.verdict()}.** {why}".rstrip())
    return lines


EXPLAINED = {
    "codec.snapshot_bytes_per_entry": (
        "The 5.5 B/entry target is for 10^7 entries: a Rice code costs about "
        "log2(2^64 / N) + 1.5 bits per key, so smaller sets (a scaled-down run) cost more "
        "per entry."),
    "ingest.rate": (
        "3,298 → 7,419 reports/s on SQLite (864 → 3,045 on PostgreSQL) after the re-merge "
        "moved to plain Core rows in bulk, writes to driver-level `executemany` "
        "(`hub.bulk_sql.bulk_write`) and SQLite timestamps to one-step text conversion; still "
        "15% of the target. SQLite admits one writer and a `POST /v1/reports` holds its "
        "`BEGIN IMMEDIATE` transaction from member authentication to commit, so throughput "
        "is 10,000 / (one batch's server time): 12 batches in 16.2 s ≈ 1.35 s each on this "
        "shared 2-core box (load 4–8 from other work during the run; ~0.9–1.0 s of CPU in "
        "process when quiet). The profile below splits a batch: ~65% `recompute` — `merge` "
        "alone ~0.5 s (~50 µs of pure Python per indicator: decay, strongest report per "
        "member and the decay-crossing time of every listed indicator), reading the touched "
        "indicators' reports ~0.2 s, writing 10,000 listings and up to 20,000 journal rows "
        "~0.16 s; ~20% the report upsert (indicator lookup and insert ~0.17 s, report "
        "`executemany` ~0.1 s); ~10% validation (`schemas/reports.py` `fast_load_report`). "
        "50,000/s is 0.2 s per 10,000-report batch, ~20 µs per report for parsing, "
        "validation, two inserts, a merge and journal rows; the per-indicator Python merge "
        "alone exceeds that. Reaching it needs the merge off the request path (store and "
        "acknowledge, re-merge in a background consumer: a contract change, the answer would "
        "no longer reflect merged listings) or the merge vectorised over a whole batch."),
    "codec.decode_s": (
        "The vectorised lane decoder's time grows faster than N at 10^7 (per-lane chains "
        "plus the scalar fallback where lanes do not meet; compare the 10^5/10^6 rows). "
        "`schemas/artifact.py` is outside this change."),
    "sdk.check_hashed_us": (
        "Memory-bound: a random key probes a random spot of an 80 MB memory map (prefix "
        "index, then ~5 bisect steps within one ~256-byte bucket): cache and TLB misses cost "
        "~0.8 µs alone (measured without the screener around it); method call, state reuse "
        "test and verdict add ~0.3 µs. The thread-CPU-time note excludes waiting for a core."),
    "sdk.check_raw_us": "See the hashed figure: the same lookup plus normalisation and HMAC.",
    "sdk.delta_sync_ms": (
        "The time grows with N, not with the changes: see the delta sync profile in the SDK "
        "section. At 10^7 it is the flat store, not the network: fsync of the new 80 MB data "
        "file (~0.13 s), applying the delta to the full array (~0.07 s) and the SHA-256 of the "
        "whole set against `set_digest` (~0.05 s, hashed straight from the buffer since "
        "`set_digest` is defined over little-endian keys); the HTTP round trips are ~0.05 s. "
        "The at-rest format stays a flat sorted array so that loading is a memory map, which "
        "means every delta rewrites and fsyncs N×8 bytes. Reaching 100 ms at 10^7 needs a "
        "different at-rest layout (a base file plus a small sorted overlay merged in the "
        "background, with an incremental set hash): a format change left for later. The same "
        "1,000-change sync stays within the target up to ~10^6 entries (series table in the "
        "SDK section)."),
    "sdk.cold_load_s": "Dominated by the SHA-256 re-check of N×8 bytes against `set_digest`.",
    "sdk.rss_bytes_per_entry": "The flat store itself is 8 B/entry; the rest is index + views.",
    "feed.publish_s": (
        "Publishing re-reads the previous entries from the publisher's state file and "
        "rewrites it (O(N) bytes) plus the SHA-256 set digest over N keys."),
    "feed.build_s": "See the publisher figure; the builder adds the journal read.",
}


SECTION_NOTES = {
    "enumeration": (
        "A 32-byte key and the exact wire input (`phone:+86…`, `id_number:…`). The compiled "
        "loop is what an attacker holding a screener's phone key runs: key pads precomputed, "
        "two SHA-256 compressions per candidate, a compare on the 64-bit feed key; it must "
        "find a planted number, so its rate is a real enumeration. The derived times use "
        "that rate; ID numbers are hashed under the identity key, which screeners no longer "
        "receive (issue 14), so the ID figures are what a *member's* leaked key costs. Rates "
        "are thread CPU time: multiply by the attacker's cores."),
    "oprf_http": (
        "The real hub (werkzeug, threaded, SQLite) on loopback with client and hub sharing "
        "the same 2 cores, wall clock: a member's 10,000-number batch through "
        "`ObliviousHasher` (one request, one proof), and `CallScreener.check` in OPRF mode "
        "on numbers it has not seen (one blinded round trip with proof verification each). "
        "Almost all of the batch time is the VOPRF arithmetic on both sides (blind, "
        "evaluate + proof, verify + unblind), not HTTP."),
    "oprf": (
        "The cryptography alone (`schemas/oprf.py` on libsodium through pysodium), one "
        "thread, no HTTP or database: the hub endpoint adds those. Per-core rates come from "
        "thread CPU time per call, so other work on the shared machine does not count; the "
        "notes give the wall-clock rates. VOPRF costs about two scalar multiplications per "
        "element (the evaluation and its weight in the composite) against one for OPRF; a "
        "single-element VOPRF evaluation pays the proof's fixed cost on its own."),
    "serving": (
        "No target in the issue. In process, one conditional poll costs ~4 ms of CPU, two "
        "thirds of "
        "it authentication: the reader-token lookup (two ORM queries) and the per-token rate "
        "limit; the manifest view itself is ~0.6 ms. A CDN or a reverse proxy answering "
        "`If-None-Match` for the public manifests (README section on exporting to a CDN) "
        "takes this load off the hub entirely."),
    "sdk": (
        "The feed under test is published by the real publisher with the hub's feed key; "
        "only the journal that would have produced it is skipped (10^7 reports through "
        "ingest would dominate the run). Sync, verification, storage, load and screening are "
        "the real SDK against the real hub over HTTP."),
    "ingest": (
        "PostgreSQL is slower than SQLite here because batches from different members that "
        "share indicators serialise on the indicator row locks taken before re-merging "
        "(`FOR NO KEY UPDATE`, needed so concurrent merges never lose a report), and every "
        "statement is a network round trip; no target is set for it."),
    "feed_build": (
        "`build_feeds` with a real journal is measured up to 10^6 entries (seeding 10^7 "
        "journal rows takes minutes); the publisher rows are the same work without the DB "
        "and are measured at 10^7."),
}


def sdk_row(s: dict[str, Any]) -> str:
    """One list size of the SDK series as a table row."""
    delta = f"{s['delta_sync_s'] * 1e3:.0f}" if "delta_sync_s" in s else "—"
    return (f"| {s['entries']:,} | {s['hashed']['median_ns'] / 1e3:.2f} / "
            f"{s['hashed']['p99_ns'] / 1e3:.2f} | {s['raw']['median_ns'] / 1e3:.2f} / "
            f"{s['raw']['p99_ns'] / 1e3:.2f} | {s['rss_bytes'] / s['entries']:.2f} | "
            f"{s['cold_load_s']:.3f} | {s['snapshot_bytes'] / s['entries']:.2f} | {delta} |")


def write_results(results: list[dict[str, Any]], path: Path, chart: bool, scale: float,
                  started: datetime, total_s: float, commit: str | None = None,
                  machine: str | None = None) -> None:
    all_figs = [f for r in results for f in load_figures(r)]
    targeted = [f for f in all_figs if f.target is not None]
    met = sum(1 for f in targeted if f.met)
    lines = [
        "# Benchmark results (issue 7)",
        "",
        "Generated by `make bench` (`bench/run_all.py`); do not edit by hand.",
        "",
        f"- **Machine:** {machine or machine_info()}",
        f"- **Date:** {started.strftime('%Y-%m-%d %H:%M UTC')} (whole run {total_s / 60:.1f} min)",
        f"- **Commit:** `{commit or git_commit()}` (the tree measured; `+dirty` = "
        "uncommitted source changes were present)",
        "- Raw figures: [results.json](results.json); re-render with "
        "`.venv/bin/python bench/run_all.py --render-only`",
        f"- **Scale:** {scale} (`BENCH_SCALE`; 1 = the issue's sizes)",
        f"- **Targets met:** {met} of {len(targeted)}",
        "- Load average (1/5/15 min) before → after each module is listed per section: the "
        "machine is shared, and a load above the core count (2) inflates every wall-clock "
        "figure by roughly load/2.",
        "",
        "## Summary",
        "",
        "| Figure | Value | Target | Verdict |",
        "|---|---|---|---|",
    ]
    for fig in all_figs:
        lines.append(f"| {fig.label} | {fmt_value(fig.value)} {fig.unit} | {target_text(fig)} "
                     f"| {fig.verdict()} |")
    missed = explain(all_figs)
    if missed:
        lines += ["", "## Targets not met, and why", "", *missed]
    if chart:
        lines += ["", "## Chart", "",
                  "Check latency and feed size against list size: [chart.png](chart.png)", "",
                  "![check latency and feed size against list size](chart.png)"]
    for r in results:
        lines += ["", f"## {HEADINGS.get(r['name'], r['name'])}", "",
                  f"Command: `{r['command']}` — {r['seconds']:.0f} s, load {r['load']}", ""]
        if r["name"] in SECTION_NOTES:
            lines += [SECTION_NOTES[r["name"]], ""]
        if r["error"]:
            lines += ["**This module failed**; its output ends with:", "", "```",
                      r["error"].strip(), "```"]
            continue
        lines += ["| Figure | Value | Target | Verdict | Notes |", "|---|---|---|---|---|"]
        lines += [figure_row(f) for f in load_figures(r)]
        for title, text in r.get("sections", {}).items():
            lines += ["", f"### {title.replace('_', ' ').capitalize()}", "", "```",
                      text.strip(), "```"]
        # Runs a module cannot repeat inside run_all (several processes, other machines'
        # load): kept as measured, markdown, with their command and machine in the text.
        for text in r["extras"].get("markdown", []):
            lines += ["", text.strip()]
        codec_series = r["extras"].get("codec_series")
        if codec_series:
            lines += ["", "| Entries | Bytes/entry | Encode s | Decode s |", "|---|---|---|---|"]
            lines += [f"| {s['entries']:,} | {s['bytes_per_entry']:.3f} | {s['encode_s']:.3f} | "
                      f"{s['decode_s']:.3f} |" for s in codec_series]
        sdk_series = r["extras"].get("sdk_series")
        if sdk_series:
            lines += ["", "| Entries | check_hashed median / p99 µs | check() median / p99 µs "
                      "| RSS B/entry | cold load s | snapshot B/entry | delta sync ms |",
                      "|---|---|---|---|---|---|---|"]
            lines += [sdk_row(s) for s in sdk_series]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
    parser.add_argument("--only", nargs="*", default=list(MODULES), choices=list(MODULES))
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--render-only", action="store_true",
                        help="re-write RESULTS.md/chart.png from the raw figures of the last run")
    args = parser.parse_args()
    raw = args.out.parent / "results.json"
    if args.render_only:
        saved = json.loads(raw.read_text())
        results = saved["results"]
        chart = draw_chart(results, args.out.parent / "chart.png")
        write_results(results, args.out, chart, saved["scale"],
                      datetime.fromisoformat(saved["started"]), saved["total_s"],
                      saved.get("commit"), saved.get("machine"))
        return
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    results = []
    for name in args.only:
        extra: list[str] = []
        result = run_module(name, args.scale, extra)
        if name == "ingest" and any(f.met is False for f in load_figures(result)):
            print("ingest below target: re-running with the server-side profile", flush=True)
            profiled = run_module(name, args.scale, ["--db", "--profile"])
            result["sections"] = profiled.get("sections", {})
        results.append(result)
    total_s = time.perf_counter() - t0
    if set(args.only) != set(MODULES) and raw.exists():
        # A partial run replaces its modules in the last full run's figures.
        saved = json.loads(raw.read_text())
        fresh = {r["name"]: r for r in results}
        results = [fresh.pop(r["name"], r) for r in saved["results"]] + list(fresh.values())
        total_s = saved["total_s"]
        started = datetime.fromisoformat(saved["started"])
    chart_path = args.out.parent / "chart.png"
    chart = draw_chart(results, chart_path)
    commit, machine = git_commit(), machine_info()
    raw.write_text(json.dumps({"results": results, "scale": args.scale, "total_s": total_s,
                               "started": started.isoformat(), "commit": commit,
                               "machine": machine}, indent=1))
    write_results(results, args.out, chart, args.scale, started, total_s, commit, machine)
    print(f"wrote {args.out}" + (f" and {chart_path}" if chart else ""), flush=True)
    failed = [r["name"] for r in results if r["returncode"] != 0]
    if failed:
        print(f"failed modules: {failed}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
