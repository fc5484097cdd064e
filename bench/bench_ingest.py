"""Report ingest throughput through the real signed HTTP batch API (issue 7).

A gunicorn hub (2 workers) on SQLite and on a fresh PostgreSQL database; 4
client processes, each a separately approved member, POST signed
`/v1/reports` batches of 10,000 pre-hashed phone reports. Consecutive clients
share half of their indicators, so every batch also pays for consensus merges
(`remerge.recompute`) on indicators other members reported. Throughput is
accepted reports / wall time from the first request sent to the last answer.

Since issue 15 the hub acknowledges (`state: accepted`) after storing and a
merge consumer merges behind it: here `lianfang-hub worker` processes (1 on
SQLite; 1 and 2 on PostgreSQL, the scale-out figure). Figures: acknowledged
reports/s, merge lag p99 (each batch's `merged_at - created_at`, from the
database), and the latency of another member's one-report write sent every
50 ms while the clients stream (p50/p99).

Targets (issue 15): SQLite >= ~42,000 reports/s, PostgreSQL >= ~21,000/s, lag
p99 <= 5 s, other member's p99 <= 150 ms. `--profile` profiles one
10,000-report `submit_reports` call in process with pyinstrument.

    .venv/bin/python bench/bench_ingest.py [--batches 3] [--clients 4] [--db sqlite postgresql]
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info  # noqa: E402
from hubproc import postgres_available, served_hub  # noqa: E402

BATCH = 10_000
TARGET_SQLITE = 42_000
TARGET_POSTGRESQL = 21_000
TARGET_LAG_P99_S = 5.0
TARGET_OTHER_P99_S = 0.150


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _other_member(url: str, member: Any, stop: Any, out: list[float]) -> None:
    """Another member's one-report writes every 50 ms while the stream runs."""
    import requests

    from client_sdk.request_auth import signed_headers

    member_id, key = member
    http = requests.Session()
    n = 0
    while not stop.is_set():
        body = json.dumps({"reports": [{"kind": "phone", "value": value_hex(10**9 + n),
                                        "category": "fraud", "confidence": 90,
                                        "key_epoch": 1}]}).encode()
        headers = {"Content-Type": "application/json",
                   **signed_headers(key, member_id, "POST", "/v1/reports", body)}
        t0 = time.perf_counter()
        response = http.post(url + "/v1/reports", data=body, headers=headers, timeout=600)
        if response.status_code == 200:
            out.append(time.perf_counter() - t0)
        n += 1
        stop.wait(0.05)


def value_hex(i: int) -> str:
    """A stand-in for a phone HMAC: 64 hex, distinct per i, uniformly spread."""
    return hashlib.sha256(b"lianfang-bench-%d" % i).hexdigest()


def batch_items(client: int, batch: int, batches: int, epoch: int) -> list[dict[str, Any]]:
    """Client c's batch b: values [start, start + 10,000) where consecutive clients overlap
    by half (so half of every batch lands on indicators another member reported)."""
    start = (batch * 8 + client) * (BATCH // 2)
    return [{"kind": "phone", "value": value_hex(i), "category": "fraud", "confidence": 90,
             "key_epoch": epoch} for i in range(start, start + BATCH)]


def client_main(url: str, member_id: str, key_raw: bytes, client: int, batches: int,
                epoch: int, barrier: Any, out: Any) -> None:
    """One member: build and encode every body first, then post them back to back."""
    import requests
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk.request_auth import signed_headers

    key = Ed25519PrivateKey.from_private_bytes(key_raw)
    bodies = [json.dumps({"reports": batch_items(client, b, batches, epoch)}).encode()
              for b in range(batches)]
    http = requests.Session()
    barrier.wait()
    spans: list[tuple[float, float, int, int]] = []
    for body in bodies:
        headers = {"Content-Type": "application/json",
                   **signed_headers(key, member_id, "POST", "/v1/reports", body)}
        t0 = time.time()
        response = http.post(url + "/v1/reports", data=body, headers=headers, timeout=600)
        t1 = time.time()
        accepted = response.json().get("accepted", 0) if response.ok else 0
        spans.append((t0, t1, response.status_code, int(accepted)))
    out.put((client, spans))


def run_ingest(db_kind: str, clients: int, batches: int, consumers: int = 1) -> dict[str, Any]:
    import subprocess
    import threading

    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import select

    from hub import get_config
    from hub.db import get_db
    from hub.models.report import PendingMerge, ReportBatch

    env = {"LIANFANG_MAX_BATCHES_IN_FLIGHT": "1000", "LIANFANG_MERGE_CONSUMER": "off"}
    with served_hub(db_kind, workers=2, env=env) as hub:
        cfg = get_config(hub.app)
        from hubproc import VENV_BIN

        worker_procs = [subprocess.Popen(
            [str(VENV_BIN / "lianfang-hub"), "--database-url", cfg.database_url,
             "--data-dir", str(hub.data_dir), "worker"],
            env={**__import__("os").environ, "LIANFANG_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(consumers)]
        other = hub.new_member()
        other_lat: list[float] = []
        stop = threading.Event()
        members = [hub.new_member() for _ in range(clients)]
        epoch = hub.member(*members[0], "GET", "/v1/consortium-key").json()["current_epoch"]
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(clients), ctx.Queue()
        procs = []
        for c, (member_id, key) in enumerate(members):
            raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
            p = ctx.Process(target=client_main,
                            args=(hub.url, member_id, raw, c, batches, epoch, barrier, out))
            p.start()
            procs.append(p)
        poller = threading.Thread(target=_other_member, args=(hub.url, other, stop, other_lat))
        poller.start()
        results = [out.get(timeout=3600) for _ in procs]
        stop.set()
        poller.join()
        for p in procs:
            p.join()
        database = get_db(hub.app)
        deadline = time.time() + 600
        while time.time() < deadline:
            with database.new_session(write=False) as session:
                if session.scalar(select(PendingMerge.id).limit(1)) is None:
                    break
            time.sleep(0.2)
        drained_at = time.time()
        with database.new_session(write=False) as session:
            lags = [(m - c).total_seconds() for c, m in session.execute(
                select(ReportBatch.created_at, ReportBatch.merged_at).where(
                    ReportBatch.member_id != other[0]))
                if m is not None]
            other_lags = [(m - c).total_seconds() for c, m in session.execute(
                select(ReportBatch.created_at, ReportBatch.merged_at).where(
                    ReportBatch.member_id == other[0])) if m is not None]
        for proc in worker_procs:
            proc.terminate()
            proc.wait(timeout=30)
    spans = [s for _, client_spans in results for s in client_spans]
    bad = [s for s in spans if s[2] != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} batches failed on {db_kind}: statuses "
                           f"{sorted({s[2] for s in bad})}")
    accepted = sum(s[3] for s in spans)
    wall = max(s[1] for s in spans) - min(s[0] for s in spans)
    per_batch = sorted(s[1] - s[0] for s in spans)
    first = min(s[0] for s in spans)
    return {"accepted": accepted, "wall_s": wall, "rate": accepted / wall,
            "batch_median_s": per_batch[len(per_batch) // 2], "batch_max_s": per_batch[-1],
            "consumers": consumers, "lag_p99_s": _pct(lags, 0.99),
            "lag_p50_s": _pct(lags, 0.5), "other_lag_p99_s": _pct(other_lags, 0.99),
            "merged_rate": accepted / (drained_at - first),
            "other_p50_s": _pct(other_lat, 0.5), "other_p99_s": _pct(other_lat, 0.99),
            "other_writes": len(other_lat)}


def profile_submit(batches_before: int = 1) -> str:
    """pyinstrument text of one 10,000-report `submit_reports` (SQLite, in process), after
    `batches_before` batches by other members so merges see existing reports."""
    from hubproc import initialise
    from pyinstrument import Profiler

    from hub import get_config
    from hub.db import get_db
    from hub.services import ingest

    with tempfile.TemporaryDirectory(prefix="lf-bench-prof-") as tmp:
        hub = initialise(f"sqlite:///{tmp}/hub.sqlite3", Path(tmp) / "data")
        app = hub.app
        cfg = get_config(app)
        with app.app_context(), get_db(app).new_session() as session:
            from hub.services.consortium_keys import epoch_states

            epoch = max(epoch_states(session))
            members = _bench_members(session, 2)
            for b in range(batches_before):
                items = batch_items(1, b, 1, epoch)
                ingest.submit_reports(session, members[1], items,
                                      provenance=ingest.Provenance(body_sha256="0" * 64),
                                      idempotency_ttl_s=cfg.idempotency_ttl_s)
            session.commit()
            items = batch_items(0, 0, 1, epoch)
            profiler = Profiler(interval=0.001)
            profiler.start()
            status, answer = ingest.submit_reports(
                session, members[0], items, provenance=ingest.Provenance(body_sha256="1" * 64),
                idempotency_ttl_s=cfg.idempotency_ttl_s)
            session.commit()
            profiler.stop()
            assert status == 200 and answer["accepted"] == BATCH, answer
        get_db(app).dispose()
        return profiler.output_text(unicode=True, color=False, show_all=False)


def _bench_members(session: Any, n: int) -> list[str]:
    """Approved members through the membership service (apply + approve), no HTTP."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.services import membership
    from schemas.envelope import public_key_raw
    from schemas.keys import b64encode

    ids = []
    for i in range(n):
        key = Ed25519PrivateKey.generate()
        member = membership.apply(session, {
            "name": f"Bench Bank {i}", "kind": "bank", "registration_no": f"REG-B{i}",
            "contact_email": "security@bank.example.cn",
            "public_key": b64encode(public_key_raw(key.public_key()))})
        membership.transition(session, member.id, "approve", "admin:bench")
        ids.append(member.id)
    session.flush()
    return ids


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=None, help="batches per client")
    parser.add_argument("--db", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--profile", action="store_true",
                        help="also profile one batch in process (pyinstrument)")
    args = parser.parse_args()
    batches = args.batches or max(1, round(3 * min(args.scale, 1)))
    print(machine_info(), flush=True)
    figures: list[Figure] = []
    sections: dict[str, str] = {}
    for db_kind in args.db:
        if db_kind == "postgresql" and (why := postgres_available()):
            figures.append(Figure("ingest.rate.postgresql", "Ingest on PostgreSQL", 0,
                                  "reports/s", note=f"not measured: {why}"))
            continue
        for consumers in ((1,) if db_kind == "sqlite" else (1, 2)):
            r = run_ingest(db_kind, args.clients, batches, consumers)
            print(f"{db_kind} x{consumers}: {r}", flush=True)
            target = TARGET_SQLITE if db_kind == "sqlite" else TARGET_POSTGRESQL
            tag = f"{db_kind}.{consumers}w"
            cores = __import__("os").cpu_count()
            figures.append(Figure(
                f"ingest.rate.{tag}",
                f"Ingest acknowledged, {args.clients} clients × {batches} batches of "
                f"{BATCH:,} ({db_kind}, {consumers} worker(s), {cores} cores)",
                r["rate"], "reports/s", target, "higher",
                note=f"{r['accepted']:,} reports in {r['wall_s']:.1f} s; per batch median "
                     f"{r['batch_median_s']:.2f} s, max {r['batch_max_s']:.2f} s; merged "
                     f"end to end {r['merged_rate']:,.0f}/s; gunicorn 2 workers",
                extra=r))
            figures.append(Figure(
                f"ingest.lag_p99.{tag}", f"Merge lag p99, ack → merged ({db_kind}, "
                f"{consumers} worker(s))", r["lag_p99_s"], "s", TARGET_LAG_P99_S, "lower",
                note=f"p50 {r['lag_p50_s']:.2f} s; the other member's batches p99 "
                     f"{r['other_lag_p99_s']:.2f} s"))
            figures.append(Figure(
                f"ingest.other_member_p99.{tag}", f"Other member's one-report write p99 "
                f"while 4 stream 10k batches ({db_kind}, {consumers} worker(s))",
                r["other_p99_s"] * 1000, "ms", TARGET_OTHER_P99_S * 1000, "lower",
                note=f"p50 {r['other_p50_s'] * 1000:.0f} ms over {r['other_writes']} writes"))
    if args.profile:
        sections["ingest_profile"] = profile_submit()
        print(sections["ingest_profile"], flush=True)
    emit(figures, args.json, sections=sections)


if __name__ == "__main__":
    main()
