"""Conditional manifest polls per second (304s) under gunicorn with 2 workers.

A screener fleet polls `GET /v1/feeds/<feed>/manifest.json` with `If-None-Match`;
almost every poll is unchanged, so what the hub sustains is its 304 rate. The
hub runs as `gunicorn -w 2` on SQLite; the load comes from another process on
loopback: `wrk` (Debian package) when installed, else a Python multi-process
client. Both are bounded by time; the reader token is a real one.

    .venv/bin/python bench/bench_serving.py [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info  # noqa: E402
from hubproc import served_hub  # noqa: E402

FEED = "phone-block"
TOKENS = 64
"""Reader tokens the load rotates over: each token has its own `feed_read` rate limit
(600/minute by default), as each screener in a fleet would."""


WRK_SCRIPT = """
tokens = {%s}
etag = %s
n = 0
request = function()
  n = n + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]
  headers["If-None-Match"] = etag
  return wrk.format("GET", nil, headers)
end
"""


def run_wrk(url: str, tokens: list[str], etag: str, seconds: int,
            connections: int) -> dict[str, Any]:
    """wrk rotating over `tokens` (a fleet of screeners, each under its own rate limit)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT % (", ".join(f'"{t}"' for t in tokens), json.dumps(etag)))
        script = fh.name
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-s", script, url],
        capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    Path(script).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    rate *= (total - errors) / total if total else 0  # count only the answered 304s
    return {"rate": rate, "requests": total, "errors": errors,
            "p50": p50.group(1) if p50 else "?", "p99": p99.group(1) if p99 else "?",
            "tool": f"wrk -t 2 -c {connections} -d {seconds}s"}


def _poller(url: str, tokens: list[str], etag: str, start: float, until: float,
            out: Any) -> None:
    import requests

    http = requests.Session()
    ok = bad = 0
    time.sleep(max(0.0, start - time.time()))
    while time.time() < until:
        headers = {"Authorization": f"Bearer {tokens[(ok + bad) % len(tokens)]}",
                   "If-None-Match": etag}
        status = http.get(url, headers=headers, timeout=10).status_code
        ok, bad = (ok + 1, bad) if status == 304 else (ok, bad + 1)
    out.put((ok, bad))


def run_python(url: str, tokens: list[str], etag: str, seconds: int,
               procs: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 10  # let the processes start (imports) before the window opens
    until = start + seconds
    workers = [ctx.Process(target=_poller, args=(url, tokens[i::procs], etag, start, until, out))
               for i in range(procs)]
    for w in workers:
        w.start()
    counts = [out.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    ok = sum(c[0] for c in counts)
    return {"rate": ok / seconds, "requests": ok, "errors": sum(c[1] for c in counts),
            "p50": "?", "p99": "?", "tool": f"{procs} Python processes (requests)"}


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args()
    seconds = args.seconds or max(3, round(10 * min(args.scale, 1)))
    print(machine_info(), flush=True)
    from client_sdk.member_client import MemberClient
    from hub.feeds.builder import build_feeds

    with served_hub("sqlite", workers=2) as hub:
        member_id, key = hub.new_member()
        member = MemberClient(hub.url, key, member_id)
        tokens = [member.mint_reader_token() for _ in range(TOKENS)]
        token = tokens[0]
        with hub.app.app_context():
            build_feeds(hub.app)
        url = f"{hub.url}/v1/feeds/{FEED}/manifest.json"
        first = hub.http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        first.raise_for_status()
        etag = first.headers["ETag"]
        check = hub.http.get(url, headers={"Authorization": f"Bearer {token}",
                                           "If-None-Match": etag}, timeout=30)
        assert check.status_code == 304, check.status_code
        if shutil.which("wrk") and not args.python_client:
            r = run_wrk(url, tokens, etag, seconds, args.connections)
        else:
            r = run_python(url, tokens, etag, seconds, 4)
    print(r, flush=True)
    emit([Figure("serving.manifest_304_per_s", "Conditional manifest polls answered (304)",
                 r["rate"], "req/s",
                 note=f"{r['tool']}, {r['requests']:,} requests, {r['errors']} non-2xx/3xx "
                      f"(rate limiting: 429; not counted); latency p50 {r['p50']}, p99 {r['p99']}; "
                      f"gunicorn 2 sync workers, {TOKENS} reader tokens; no target", extra=r)],
         args.json)


if __name__ == "__main__":
    main()
