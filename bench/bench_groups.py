"""Complaint cases: cost of one case against a small and a large group (issue 13 item 7).

In-process hub on SQLite: builds one group of N indicators, then times a 2-indicator
case touching it, for N = 5 and N = 5,000 (and 50,000 with --scale 10). A case must
cost O(its own size), so the per-case time must not grow with N. Writes a section of
figures for bench/run_all.py like every bench module.

    .venv/bin/python bench/bench_groups.py [--scale 10]
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info  # noqa: E402

from hub import create_app  # noqa: E402
from hub.bootstrap import initialize  # noqa: E402
from hub.db import get_db  # noqa: E402
from hub.models.member import Member  # noqa: E402
from hub.services import groups  # noqa: E402
from schemas.timefmt import utcnow  # noqa: E402


def _case(values: list[str]) -> dict:
    return {"indicators": [{"kind": "device", "value": v} for v in values], "key_epoch": 1,
            "category": "malicious_complaint", "observed_at": utcnow() - timedelta(hours=1),
            "case_ref": None}


def main() -> None:
    args = bench_parser(__doc__.splitlines()[0]).parse_args()
    sizes = [5, 5000] + ([50000] if args.scale >= 10 else [])
    print(machine_info(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"database_url": f"sqlite:///{tmp}/hub.sqlite3", "data_dir": Path(tmp),
                          "scheduler": False})
        initialize(app, first_admin=None)
        with app.app_context():
            db = get_db(app)
            with db.new_session() as s:
                now = utcnow()
                for mid in ("mbr_bench_a", "mbr_bench_b"):
                    s.add(Member(id=mid, name=mid, kind="bank", registration_no=mid,
                                 contact_email="a@b.cn", public_key=(mid * 4)[:44],
                                 registration_key=mid.upper(),
                                 key_id=mid, state="approved", created_at=now, updated_at=now))
                s.commit()
            for n in sizes:
                values = [secrets.token_hex(32) for _ in range(n)]
                with db.new_session() as s:
                    for start in range(0, n, 499):
                        anchor = [values[start - 1]] if start else []
                        chunk = anchor + values[start:start + 499]
                        groups.submit_case(s, "mbr_bench_a", _case(chunk))
                    s.commit()
                times = []
                for i in range(20):
                    with db.new_session() as s:
                        t0 = time.perf_counter()
                        groups.submit_case(s, "mbr_bench_b",
                                           _case([values[i % n], secrets.token_hex(32)]))
                        s.commit()
                        times.append(time.perf_counter() - t0)
                best = min(times) * 1e3
                rows.append((n, best, sorted(times)[len(times) // 2] * 1e3))
                print(f"group of {n:>6,}: one case {best:.2f} ms best, "
                      f"{rows[-1][2]:.2f} ms median of 20", flush=True)
    small = rows[0][2]
    figures = [Figure(f"groups.case_ms.{n}", f"One 2-indicator case against a group of {n:,}",
                      median, "ms", None if n == sizes[0] else 2 * small, "lower",
                      note=f"best {best:.2f} ms; median of 20; SQLite in process"
                      + ("" if n == sizes[0] else "; target: within 2x of the 5-indicator "
                         "group (a case costs O(its own size))"))
               for n, best, median in rows]
    emit(figures, args.json)

if __name__ == "__main__":
    main()
