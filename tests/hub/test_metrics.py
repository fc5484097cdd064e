"""`/metrics` scraped from gunicorn with two workers (multiprocess mode), and its access control."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.helpers.gunicorn import gunicorn_hub


@contextmanager
def _gunicorn(tmp_path: Path, db_url: str, **env: str) -> Iterator[str]:
    with gunicorn_hub(tmp_path, db_url, **env) as hub:
        yield hub.url


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


def test_refusals_publish_lag_and_key_expiry_under_two_workers(
    db_url: str, tmp_path: Path
) -> None:
    """The operator's alerts: 429s and 413s counted, feeds behind the listings, keys to rotate."""
    token = {"Authorization": "Bearer scrape-secret-1234"}
    with gunicorn_hub(tmp_path, db_url, LIANFANG_METRICS_ACCESS="token",
                      LIANFANG_METRICS_TOKEN="scrape-secret-1234",
                      LIANFANG_RATELIMIT_ADMIN_LOGIN="1/hour") as hub:
        login = requests.post(hub.url + "/v1/admin/login", timeout=10,
                              json={"username": "admin", "password": hub.admin_password})
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        value = "ab" * 32
        added = requests.post(hub.url + "/v1/admin/allowlist", headers=admin, timeout=10,
                              json={"kind": "phone", "value": value, "key_epoch": 1})
        assert added.status_code == 201, added.text
        statuses = [requests.post(hub.url + "/v1/admin/login", timeout=10,
                                  json={"username": "admin", "password": "wrong-password-1"}
                                  ).status_code for _ in range(3)]
        assert 429 in statuses  # 1/hour per worker: of 3 logins on 2 workers one is refused
        huge = requests.post(hub.url + "/v1/applications", data=b"x" * 3_000_000, timeout=10,
                             headers={"Content-Type": "application/json"})
        assert huge.status_code == 413
        text = requests.get(hub.url + "/metrics", headers=token, timeout=10).text
        assert _sample(text, "lianfang_rate_limit_refusals_total") >= 1
        assert _sample(text, "lianfang_quota_refusals_total", reason="body_too_large") == 1
        assert _sample(text, "lianfang_feed_pending_changes", feed="phone-allow") == 1
        assert _sample(text, "lianfang_feed_pending_changes", feed="phone-block") == 0
        assert _sample(text, "lianfang_feed_publish_lag_seconds", feed="phone-allow") >= 0
        assert _sample(text, "lianfang_feed_published_timestamp_seconds",
                       feed="phone-block") > 1.7e9
        assert _sample(text, "lianfang_key_expiry_timestamp_seconds", key="root") > 1.7e9
        assert "lianfang_database_errors_total" in text
        assert value not in text and value[:16] not in text, "a hash became a label"


def test_merge_lag_is_the_age_of_the_oldest_unmerged_change(db_url: str, tmp_path: Path) -> None:
    """Acknowledged but unmerged work shows as `lianfang_merge_lag_seconds` (issue 18)."""
    from datetime import timedelta

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from hub.models.report import PendingMerge
    from schemas.timefmt import utcnow

    token = {"Authorization": "Bearer scrape-secret-1234"}
    with gunicorn_hub(tmp_path, db_url, LIANFANG_METRICS_ACCESS="token",
                      LIANFANG_METRICS_TOKEN="scrape-secret-1234",
                      LIANFANG_MERGE_CONSUMER="false") as hub:
        text = requests.get(hub.url + "/metrics", headers=token, timeout=10).text
        assert _sample(text, "lianfang_merge_pending") == 0
        assert _sample(text, "lianfang_merge_lag_seconds") == 0
        engine = create_engine(db_url)
        try:
            with Session(engine) as session:
                session.add(PendingMerge(indicator_id=1, created_at=utcnow()
                                         - timedelta(seconds=90)))
                session.commit()
        finally:
            engine.dispose()
        text = requests.get(hub.url + "/metrics", headers=token, timeout=10).text
        assert _sample(text, "lianfang_merge_pending") == 1
        assert 90 <= _sample(text, "lianfang_merge_lag_seconds") < 600
