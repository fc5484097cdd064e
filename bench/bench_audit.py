"""Audit page views at growing chain lengths: full vs incremental verification (issue 14).

Before issue 14 the dashboard and the audit page re-verified the whole hash
chain on every view (3.5 s at 10^5 rows). Now they verify from the last
verified mark (`hub.services.audit.verify_incremental`). Per chain length N
(default 10^3, 10^5, 10^6; scaled by `--scale`, at least 10^3):

- `full`: `verify_chain` over all N rows (what `lianfang-hub verify-audit` runs);
- `page`: a real `GET /console/audit` through the Flask test client, signed in,
  after 10 new audit rows since the previous view (median of `--repeat`).
  Target: the view at the largest N within 2x of the view at 10^3 rows.

The chain is written straight into SQLite with correct hashes (setup, not
timed): 10^6 `audit.record` calls would take minutes and measure nothing here.

    .venv/bin/python bench/bench_audit.py --sizes 1000 100000 1000000
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info, scaled  # noqa: E402

from hub.db import get_db  # noqa: E402
from hub.services import audit  # noqa: E402
from schemas.canonical import canonical_json  # noqa: E402
from schemas.timefmt import format_time, utcnow  # noqa: E402

NEW_ROWS = 10
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed_chain(app: Any, n: int) -> None:
    """Append `n` valid rows after the current head, in bulk, and move the head."""
    db = get_db(app)
    with db.new_session(write=False) as session:
        seq, prev = audit.head(session)
    start = utcnow() - timedelta(days=1)
    batch: list[dict[str, Any]] = []
    with db.engine.begin() as conn:
        for i in range(n):
            seq += 1
            at = start + timedelta(microseconds=i)
            details = {"n": i}
            fields = {"id": seq, "at": format_time(at), "actor": "system",
                      "action": "bench.event", "subject": f"subject-{i % 1000}",
                      "details": details}
            digest = audit.entry_hash(prev, fields)
            batch.append({"id": seq, "at": at.replace(tzinfo=None), "actor": "system",
                          "action": "bench.event", "subject": fields["subject"],
                          "details": canonical_json(details).decode(), "prev_hash": prev,
                          "hash": digest})
            prev = digest
            if len(batch) == 20_000:
                conn.exec_driver_sql(*_insert(batch))
                batch = []
        if batch:
            conn.exec_driver_sql(*_insert(batch))
        conn.exec_driver_sql("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, prev))


def _insert(rows: list[dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
    sql = ("INSERT INTO audit_log (id, at, actor, action, subject, details, prev_hash, hash) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    return sql, [(r["id"], r["at"].isoformat(sep=" "), r["actor"], r["action"], r["subject"],
                  r["details"], r["prev_hash"], r["hash"]) for r in rows]


def signed_in(app: Any) -> Any:
    from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME

    client = app.test_client()
    token = _TOKEN.search(client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    done = client.post("/console/login", data={"username": ADMIN_USERNAME,
                                               "password": ADMIN_PASSWORD, "csrf_token": token})
    assert done.status_code == 303, done.text
    return client


def measure(n: int, repeat: int) -> tuple[float, float]:
    """(full verify seconds, median page view seconds) at a chain of about `n` rows."""
    from hub.auth.admin_auth import create_admin
    from tests.helpers.audit import append_entries
    from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME, make_hub_app

    data_dir = Path(tempfile.mkdtemp(prefix="lf-bench-audit-"))
    app = make_hub_app(f"sqlite:///{data_dir / 'hub.sqlite3'}", data_dir / "data")
    with app.app_context(), get_db(app).new_session() as session:
        create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD, actor="bench")
        session.commit()
    seed_chain(app, n)
    with app.app_context(), get_db(app).new_session(write=False) as session:
        t0 = time.perf_counter()
        ok, _ = audit.verify_chain(session)
        full = time.perf_counter() - t0
    assert ok
    client = signed_in(app)
    assert client.get("/console/audit").status_code == 200  # the first view sets the mark
    views = []
    for _ in range(repeat):
        append_entries(app, NEW_ROWS)
        t0 = time.perf_counter()
        page = client.get("/console/audit")
        views.append(time.perf_counter() - t0)
        assert page.status_code == 200 and "chain broken" not in page.text
    get_db(app).dispose()
    return full, statistics.median(views)


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sizes = args.sizes or sorted({1000, scaled(10**5, args.scale), scaled(10**6, args.scale)})
    print(machine_info(), flush=True)
    results = {n: measure(n, args.repeat) for n in sorted(sizes)}
    smallest, largest = min(results), max(results)
    base_view = results[smallest][1]
    figures: list[Figure] = []
    for n, (full, view) in results.items():
        figures.append(Figure(f"audit_full_verify_{n}",
                              f"Full audit chain verification, {n:,} rows", full, "s"))
        target = 2 * base_view if n == largest and n != smallest else None
        figures.append(Figure(
            f"audit_page_view_{n}", f"Audit page view ({NEW_ROWS} new rows), {n:,}-row chain",
            view * 1000, "ms", target=target * 1000 if target else None,
            note=f"target: within 2x of the {smallest:,}-row view" if target else ""))
    emit(figures, args.json, extras={"sizes": json.dumps(sorted(results))})


if __name__ == "__main__":
    main()
