"""PostgreSQL stopped and restarted under load: 503 meanwhile, recovery without a hub restart.

Runs against a private cluster (`helpers.pgcluster`), never the shared server
on 5432. While the database is down every API answer is
`503 {"error": {"code": "database_unavailable"}}` with `Retry-After`; once it
is back the same hub process serves again (pre-ping replaces dead pooled
connections), and batches resent under their `Idempotency-Key` are stored
exactly once.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from werkzeug.serving import make_server

from hub.db import get_db
from hub.models.report import Report, ReportBatch
from schemas.envelope import public_key_raw
from schemas.keys import b64encode
from tests.helpers.pgcluster import PgCluster, find_bin_dir
from tests.helpers.signed import signed_request
from tests.hub.reports_support import hv, rep

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_pg() -> Iterator[PgCluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "no initdb under /usr/lib/postgresql/*/bin: cannot start a private cluster"
        if os.environ.get("LIANFANG_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (LIANFANG_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    cluster = PgCluster(bin_dir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Served:
    url: str
    app: Any
    member: tuple[str, Ed25519PrivateKey]


@pytest.fixture
def served_hub(private_pg: PgCluster, tmp_path: Path) -> Iterator[Served]:
    from hub import create_app
    from hub.bootstrap import initialize
    from hub.services.membership import transition

    app = create_app({"database_url": private_pg.url, "data_dir": tmp_path / "data",
                      "scheduler": False})
    initialize(app, first_admin=None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    key = Ed25519PrivateKey.generate()
    applied = requests.post(url + "/v1/applications", json={
        "name": "Restart Bank", "kind": "bank", "registration_no": "REG-PGRESTART",
        "contact_email": "ops@bank.example.cn",
        "public_key": b64encode(public_key_raw(key.public_key())),
    }, timeout=30)
    assert applied.status_code == 201, applied.text
    member_id = applied.json()["id"]
    with app.app_context(), get_db(app).new_session() as session:
        transition(session, member_id, "approve", "test", None)
        session.commit()
    from hub.feeds.scheduler import start_consumer, stop_consumer

    start_consumer(app, use_lease=False)  # merges behind ingest, and must survive the outages
    try:
        yield Served(url=url, app=app, member=(member_id, key))
    finally:
        stop_consumer(app)
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        get_db(app).dispose()


def _post(hub: Served, values: list[str], idem: str) -> requests.Response:
    member_id, key = hub.member
    body = json.dumps({"reports": [rep(v) for v in values]}).encode()
    prepared = signed_request(
        member_id, key, "POST", hub.url + "/v1/reports", body,
        headers={"Content-Type": "application/json", "Idempotency-Key": idem},
    )
    with requests.Session() as http:
        return http.send(prepared, timeout=60)


@dataclass
class Load:
    """Threads that keep submitting small batches, resending each until it is accepted."""

    hub: Served
    statuses: list[int] = field(default_factory=list)
    bad_503: list[str] = field(default_factory=list)
    done_keys: list[str] = field(default_factory=list)
    accepted: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self) -> None:
        while not self.stop.is_set():
            values, idem = [hv() for _ in range(20)], secrets.token_hex(8)
            while True:  # a batch is resent until accepted, even after stop is set
                try:
                    response = _post(self.hub, values, idem)
                except requests.RequestException:
                    time.sleep(0.2)
                    continue
                self._note(response)
                if response.status_code == 200:
                    with self.lock:
                        self.done_keys.append(idem)
                        self.accepted += response.json()["accepted"]
                    break
                time.sleep(0.1)

    def _note(self, response: requests.Response) -> None:
        with self.lock:
            self.statuses.append(response.status_code)
            if response.status_code == 503:
                body = response.json()
                if body["error"]["code"] != "database_unavailable" or not response.headers.get(
                    "Retry-After"
                ):
                    self.bad_503.append(response.text[:200])

    def successes(self) -> int:
        with self.lock:
            return self.statuses.count(200)


def _wait_for(predicate: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def _recovered(hub: Served) -> bool:
    return _post(hub, [hv()], secrets.token_hex(8)).status_code == 200


def test_postgres_restart_under_load_gives_503_then_recovers(
    private_pg: PgCluster, served_hub: Served
) -> None:
    load = Load(served_hub)
    workers = [threading.Thread(target=load.worker, daemon=True) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        _wait_for(lambda: load.successes() >= 5)

        private_pg.stop("fast")
        down = _post(served_hub, [hv()], secrets.token_hex(8))
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "database_unavailable"
        assert int(down.headers["Retry-After"]) > 0
        health = requests.get(served_hub.url + "/healthz", timeout=30)
        assert health.status_code == 503
        private_pg.start()
        _wait_for(lambda: _recovered(served_hub))  # same hub process, no restart
        seen = load.successes()
        _wait_for(lambda: load.successes() >= seen + 5)

        private_pg.restart("fast")  # the other shape: terminate connections mid-flight
        _wait_for(lambda: _recovered(served_hub))
        seen = load.successes()
        _wait_for(lambda: load.successes() >= seen + 5)
    finally:
        load.stop.set()
        for w in workers:
            w.join(timeout=120)
    assert set(load.statuses) <= {200, 503}, f"unexpected answers: {set(load.statuses)}"
    assert not load.bad_503, f"503 without database_unavailable/Retry-After: {load.bad_503[:2]}"

    # Exactly once across the outages: one batch row per key, every accepted report stored.
    app = served_hub.app
    with app.app_context(), get_db(app).new_session(write=False) as s:
        keys = list(s.scalars(select(ReportBatch.idempotency_key).where(
            ReportBatch.idempotency_key.in_(load.done_keys))))
        stored = int(s.scalar(select(func.count()).select_from(Report).join(
            ReportBatch, Report.batch_id == ReportBatch.id).where(
            ReportBatch.idempotency_key.in_(load.done_keys))) or 0)
    assert sorted(keys) == sorted(load.done_keys)
    assert stored == load.accepted == 20 * len(load.done_keys)
