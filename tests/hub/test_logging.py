"""Logs under a real gunicorn with two workers, read as an operator's log shipper would.

Every line (gunicorn's own included) carries time, level and the request id
field; a request's id comes back in X-Request-ID and on its access line; a bad
incoming id is replaced; JSON mode writes one parseable object per line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.helpers.gunicorn import gunicorn_hub
from tests.helpers.hubproc import hub_env

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \[(\d+)\] "
    r"(\S+) request_id=(\S+) "
)


def _drive(url: str) -> dict[str, str]:
    """Concurrent requests (so both sync workers serve); returns id → route."""
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> str:
        rid = f"drill-{n:02d}"
        answer = requests.get(url + "/readyz", headers={"X-Request-ID": rid}, timeout=10)
        assert answer.headers["X-Request-ID"] == rid
        return rid

    with ThreadPoolExecutor(8) as pool:
        sent = {rid: "/readyz" for rid in pool.map(one, range(48))}
    fresh = requests.get(url + "/v1/admin/members/m_nobody", timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])
    sent[fresh.headers["X-Request-ID"]] = "/v1/admin/members/<member_id>"
    hostile = requests.get(url + "/healthz", headers={"X-Request-ID": "a b;" + "x" * 80},
                           timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])
    return sent


def test_text_lines_have_time_level_and_request_id_from_both_workers(
    db_url: str, tmp_path: Path
) -> None:
    with gunicorn_hub(tmp_path, db_url) as hub:
        sent = _drive(hub.url)
    lines = [line for line in hub.log.read_text().splitlines() if line.strip()]
    assert lines
    parsed = [TEXT_LINE.match(line) for line in lines]
    assert all(parsed), [line for line, m in zip(lines, parsed, strict=True) if not m][:3]
    access = [m for m in parsed if m and m.group(3) == "hub.access"]
    by_id = {m.group(4): m for m in access}
    for rid, route in sent.items():
        assert rid in by_id, f"no access line for request {rid}"
        assert f" {route} " in by_id[rid].string
    assert len({m.group(2) for m in access}) == 2, "both workers wrote access lines"
    assert any(m.group(3) == "gunicorn.error" for m in parsed if m)  # gunicorn's own, same shape
    assert "m_nobody" not in hub.log.read_text(), "the raw path reached the log"


def test_json_lines_parse_with_time_level_and_request_id(db_url: str, tmp_path: Path) -> None:
    with gunicorn_hub(tmp_path, db_url, LIANFANG_LOG_FORMAT="json") as hub:
        sent = _drive(hub.url)
    records = [json.loads(line) for line in hub.log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "request_id", "message", "name"} <= set(r) for r in records)
    access = {r["request_id"]: r for r in records if r["name"] == "hub.access"}
    assert set(sent) <= set(access)
    assert access["drill-00"]["route"] == "/readyz" and access["drill-00"]["status"] == 200


def test_gunicorn_refuses_bad_configuration_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:hub.gunicorn_conf",
         "-b", "127.0.0.1:0", "hub:create_app()"],
        env=hub_env(LIANFANG_DATA_DIR=str(tmp_path), LIANFANG_LOG_FORMAT="xml"),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: LIANFANG_LOG_FORMAT must be text or json (got 'xml')"
    ], done.stderr
