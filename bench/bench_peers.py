"""Peers in the benchmark (issue 15): CrowdSec LAPI's POST /v1/alerts next to our ingest.

Same run, same item count: our `bench_ingest.run_ingest` (4 clients × batches of
10,000 reports, its existing entry point) and CrowdSec 1.4 from Debian's package
(scripts/install-crowdsec.sh) — its LAPI alone (`crowdsec -no-cs`) in a temporary
directory on a loopback port, SQLite with WAL, one registered machine, 4 clients
posting alerts of 1,000 decisions each. Prints both rates and the ratio; skips
with one line when the package cannot be installed.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import BATCH, run_ingest  # noqa: E402
from common import Figure, bench_parser, emit, machine_info  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DECISIONS_PER_ALERT = 1_000
PASSWORD = "bench-machine-password-0123456789"


def install() -> str | None:
    """None when crowdsec and cscli are usable, else why not (the script's line)."""
    done = subprocess.run([str(REPO / "scripts" / "install-crowdsec.sh")],
                          capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["install-crowdsec.sh failed"])[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp: Path, port: int) -> Path:
    for sub in ("data", "hub", "notifications"):
        (tmp / sub).mkdir()
    (tmp / "simulation.yaml").write_text("simulation: false\n")
    (tmp / "profiles.yaml").write_text(
        "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && "
        "Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\n"
        "on_success: break\n")
    (tmp / "local_api_credentials.yaml").write_text(f"url: http://127.0.0.1:{port}\n")
    config = {
        "common": {"daemonize": False, "log_media": "stdout", "log_level": "error",
                   "working_dir": str(tmp)},
        "config_paths": {"config_dir": f"{tmp}/", "data_dir": f"{tmp}/data/",
                         "simulation_path": f"{tmp}/simulation.yaml",
                         "hub_dir": f"{tmp}/hub/", "index_path": f"{tmp}/hub/.index.json",
                         "notification_dir": f"{tmp}/notifications/",
                         "plugin_dir": "/usr/lib/crowdsec/plugins/"},
        "db_config": {"type": "sqlite", "db_path": f"{tmp}/data/crowdsec.db", "use_wal": True,
                      # one connection: with more, concurrent alerts fail "database is locked"
                      "max_open_conns": 1, "log_level": "error"},
        "api": {"client": {"credentials_path": f"{tmp}/local_api_credentials.yaml"},
                "server": {"log_level": "error", "listen_uri": f"127.0.0.1:{port}",
                           "profiles_path": f"{tmp}/profiles.yaml"}},
        "prometheus": {"enabled": False},
    }
    path = tmp / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _ip(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _alert(client: int, n: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = (client * 1_000 + n) * DECISIONS_PER_ALERT
    decisions = [{"duration": "4h", "origin": "cscli", "scenario": "bench/peer", "scope": "Ip",
                  "type": "ban", "value": _ip(base + i)} for i in range(DECISIONS_PER_ALERT)]
    return {"scenario": "bench/peer", "scenario_hash": "", "scenario_version": "",
            "message": "bench", "events_count": 1, "start_at": now, "stop_at": now,
            "capacity": 0, "leakspeed": "0", "simulated": False, "events": [],
            "remediation": True, "source": {"scope": "Ip", "value": f"192.0.2.{client + 1}"},
            "decisions": decisions}


def _client(url: str, token: str, client: int, alerts: int, barrier: Any, out: Any) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    bodies = [json.dumps([_alert(client, n)]) for n in range(alerts)]
    barrier.wait()
    spans = []
    for body in bodies:
        start = time.perf_counter()
        answer = session.post(url + "/v1/alerts", data=body, timeout=600,
                              headers={"Content-Type": "application/json"})
        spans.append((start, time.perf_counter(), answer.status_code,
                      "" if answer.ok else answer.text[:300]))
    out.put(spans)


def run_crowdsec(items: int, clients: int) -> dict[str, Any]:
    """Decisions per second through LAPI's POST /v1/alerts, `items` decisions in all."""
    import requests

    with tempfile.TemporaryDirectory(prefix="lianfang-crowdsec-") as name:
        tmp = Path(name)
        port = _free_port()
        config = _config(tmp, port)
        subprocess.run(["cscli", "-c", str(config), "machines", "add", "bench", "--password",
                        PASSWORD, "--force", "-f", str(tmp / "machine.yaml")],
                       check=True, capture_output=True, text=True)
        log = (tmp / "lapi.log").open("wb")
        proc = subprocess.Popen(["crowdsec", "-c", str(config), "-no-cs"], stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    login = requests.post(url + "/v1/watchers/login", timeout=5,
                                          json={"machine_id": "bench", "password": PASSWORD})
                    if login.status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("CrowdSec LAPI did not start: "
                                       + (tmp / "lapi.log").read_text()[-500:])
                time.sleep(0.3)
            token = login.json()["token"]
            per_client = items // (clients * DECISIONS_PER_ALERT)
            ctx = mp.get_context("spawn")
            barrier, out = ctx.Barrier(clients), ctx.Queue()
            procs = [ctx.Process(target=_client, args=(url, token, c, per_client, barrier, out))
                     for c in range(clients)]
            for p in procs:
                p.start()
            results = [out.get(timeout=3600) for _ in procs]
            for p in procs:
                p.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    spans = [s for r in results for s in r]
    bad = sorted({(s[2], s[3]) for s in spans if s[2] not in (200, 201)})
    if bad:
        raise RuntimeError(f"CrowdSec answered {bad[:2]}")
    decisions = len(spans) * DECISIONS_PER_ALERT
    wall = max(s[1] for s in spans) - min(s[0] for s in spans)
    return {"decisions": decisions, "wall_s": wall, "rate": decisions / wall,
            "version": _version()}


def _version() -> str:
    done = subprocess.run(["crowdsec", "-version"], capture_output=True, text=True, check=False)
    text = done.stdout + done.stderr
    marker = "version: "
    return text.split(marker, 1)[1].split()[0] if marker in text else "unknown version"


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=None,
                        help=f"our batches of {BATCH:,} per client (CrowdSec gets as many items)")
    parser.add_argument("--db", nargs="*", default=["sqlite"])
    args = parser.parse_args()
    batches = args.batches or max(1, round(3 * min(args.scale, 1)))
    items = args.clients * batches * BATCH
    print(machine_info(), flush=True)
    why = install()
    if why is not None:
        print(f"CrowdSec peer skipped: {why}", flush=True)
        emit([Figure("peers.crowdsec.rate", "CrowdSec LAPI POST /v1/alerts", 0, "decisions/s",
                     note=f"not measured: {why}")], args.json)
        return
    peer = run_crowdsec(items, args.clients)
    print(f"crowdsec: {peer}", flush=True)
    figures = [Figure(
        "peers.crowdsec.rate",
        f"CrowdSec LAPI ({peer['version']}), {args.clients} clients, alerts of "
        f"{DECISIONS_PER_ALERT:,} decisions, SQLite WAL", peer["rate"], "decisions/s",
        better="higher", note=f"{peer['decisions']:,} decisions in {peer['wall_s']:.1f} s",
        extra=peer)]
    for db_kind in args.db:
        ours = run_ingest(db_kind, args.clients, batches)
        print(f"lianfang {db_kind}: {ours}", flush=True)
        ratio = ours["rate"] / peer["rate"]
        target = 3.0 if db_kind == "sqlite" else 1.5
        figures.append(Figure(
            f"peers.lianfang.rate.{db_kind}",
            f"Lianfang POST /v1/reports ({db_kind}), same run, {ours['accepted']:,} reports",
            ours["rate"], "reports/s", better="higher",
            note=f"{ours['accepted']:,} reports in {ours['wall_s']:.1f} s", extra=ours))
        figures.append(Figure(
            f"peers.ratio.{db_kind}", f"Lianfang ({db_kind}) / CrowdSec, same item count",
            ratio, "×", target, "higher",
            note=f"{ours['rate']:,.0f} / {peer['rate']:,.0f}; issue 15 target ≥ {target}×"))
    emit(figures, args.json)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(REPO))
    main()
