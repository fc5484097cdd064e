"""`/metrics` scraped from gunicorn with two workers (multiprocess mode), and its access control."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.helpers.hubproc import cli_args, hub_env
from tests.helpers.processes import free_port, wait_healthy


@contextmanager
def _gunicorn(tmp_path: Path, db_url: str, **env: str) -> Iterator[str]:
    data_dir = tmp_path / "var"
    subprocess.run(cli_args(data_dir, db_url, "init"), env=hub_env(), check=True,
                   capture_output=True, timeout=120)
    subprocess.run(cli_args(data_dir, db_url, "build-feeds"), env=hub_env(), check=True,
                   capture_output=True, timeout=120)
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-w", "2", "-b", f"127.0.0.1:{port}",
         "-c", "python:hub.gunicorn_conf", "hub:create_app()"],
        env=hub_env(LIANFANG_DATABASE_URL=db_url, LIANFANG_DATA_DIR=str(data_dir),
                    LIANFANG_SCHEDULER="false", PROMETHEUS_MULTIPROC_DIR=str(prom_dir), **env),
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_counters_from_both_workers_and_no_identifiers_as_labels(
    db_url: str, tmp_path: Path
) -> None:
    with _gunicorn(tmp_path, db_url, LIANFANG_METRICS_ACCESS="token",
                   LIANFANG_METRICS_TOKEN="scrape-secret-1234") as url:
        session_a, session_b = requests.Session(), requests.Session()
        for n in range(30):  # two keep-alive connections, fresh ones too: both workers serve
            (session_a if n % 2 else session_b).get(url + "/healthz", timeout=10)
            requests.get(url + f"/v1/members/m_secret{n}", timeout=10)
        assert requests.get(url + "/metrics", timeout=10).status_code == 404
        wrong = requests.get(url + "/metrics", timeout=10,
                             headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 404
        pids = {p.name.split("_")[-1] for p in (tmp_path / "prom").glob("counter_*.db")}
        assert len(pids) == 2, f"both workers should have counted: {pids}"
        for _ in range(4):  # whichever worker answers, it reports all requests
            scrape = requests.get(url + "/metrics", timeout=10,
                                  headers={"Authorization": "Bearer scrape-secret-1234"})
            assert scrape.status_code == 200
            text = scrape.text
            assert _sample(text, "lianfang_http_requests_total",
                           endpoint="/healthz", status="200") >= 30
            assert _sample(text, "lianfang_http_request_duration_seconds_count",
                           endpoint="/healthz") >= 30
        feeds = set(re.findall(r'lianfang_feed_version\{feed="([^"]+)"\} 1\.0', text))
        assert feeds, "every published feed reports its version"
        assert _sample(text, "lianfang_feed_issued_timestamp_seconds") > 1.7e9
        assert "m_secret" not in text, "a raw path (with an id) became a label"
        labels = set(re.findall(r'endpoint="([^"]*)"', text))
        assert all("m_secret" not in label for label in labels)


def test_address_mode_serves_only_listed_addresses(db_url: str, tmp_path: Path) -> None:
    with _gunicorn(tmp_path, db_url, LIANFANG_METRICS_ACCESS="addresses",
                   LIANFANG_METRICS_ALLOWED="10.9.9.9") as url:
        assert requests.get(url + "/metrics", timeout=10).status_code == 404
    (tmp_path / "prom").rename(tmp_path / "prom-1")
    (tmp_path / "gunicorn.log").unlink()
    with _gunicorn(tmp_path, db_url, LIANFANG_METRICS_ACCESS="addresses",
                   LIANFANG_METRICS_ALLOWED="127.0.0.1") as url:
        answer = requests.get(url + "/metrics", timeout=10)
        assert answer.status_code == 200 and "lianfang_http_requests_total" in answer.text
