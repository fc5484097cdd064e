"""The initialised hub app and a live hub on loopback, shared by tests and benchmarks.

These are plain helpers, not fixtures: `tests/conftest.py` builds its `hub_app` and
`live_hub` fixtures from them, and tests or `bench/` that need a hub with settings of
their own call `make_hub_app` / `serve_hub` directly (importing `tests.conftest`
would load that module twice, once as a plugin and once as a module).
"""

from __future__ import annotations

import json as jsonlib
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from schemas.envelope import public_key_raw
from schemas.keys import b64encode
from tests.helpers.signed import signed_request

DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "correct horse battery staple 42"
# Per-address limits (10 applications an hour) are far below what one test's
# fixtures send from 127.0.0.1; tests/hub/test_ratelimit.py sets its own.
TEST_RATE_LIMITS = {
    "ratelimit_applications": "100000/hour",
    "ratelimit_admin_login": "100000/minute",
}


def postgres_server_url() -> str:
    """The PostgreSQL server the tests and benchmarks create their databases on."""
    return os.environ.get("LIANFANG_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def make_hub_app(db_url: str, data_dir: Path, **overrides: Any) -> Flask:
    """A migrated, initialised app (no admin) — what `hub_app` returns."""
    from hub import create_app
    from hub.bootstrap import initialize

    app = create_app(
        {
            "database_url": db_url,
            "data_dir": data_dir,
            "scheduler": False,
            **TEST_RATE_LIMITS,
            **overrides,
        }
    )
    app.config["TESTING"] = True
    initialize(app, first_admin=None)
    return app


@dataclass
class LiveHub:
    """The real hub on a loopback port plus helpers that speak real HTTP."""

    url: str
    app: Flask
    data_dir: Path
    admin_token: str = ""
    http: requests.Session = field(default_factory=requests.Session)

    def admin(self, method: str, path: str, json: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return self.http.request(method, self.url + path, json=json, headers=headers, timeout=30)

    def member(
        self,
        member_id: str,
        key: Ed25519PrivateKey,
        method: str,
        path: str,
        json: Any = None,
        *,
        now: float | None = None,
        nonce: str | None = None,
    ) -> requests.Response:
        """A signed request, signing the prepared request's exact path and body."""
        body = b"" if json is None else jsonlib.dumps(json).encode("utf-8")
        prepared = signed_request(
            member_id,
            key,
            method,
            self.url + path,
            body,
            headers={"Content-Type": "application/json"} if json is not None else {},
            now=now,
            nonce=nonce,
        )
        return self.http.send(prepared, timeout=30)

    def apply(
        self, key: Ed25519PrivateKey, name: str | None = None, kind: str = "bank"
    ) -> requests.Response:
        return self.http.post(
            self.url + "/v1/applications",
            json={
                "name": name or f"Test Bank {secrets.token_hex(3)}",
                "kind": kind,
                "registration_no": f"REG-{secrets.token_hex(4)}",
                "contact_email": "security@bank.example.cn",
                "public_key": b64encode(public_key_raw(key.public_key())),
            },
            timeout=30,
        )

    def new_member(
        self, name: str | None = None, kind: str = "bank", approve: bool = True
    ) -> tuple[str, Ed25519PrivateKey]:
        """Apply through the API (and approve as the admin unless `approve=False`)."""
        key = Ed25519PrivateKey.generate()
        response = self.apply(key, name=name, kind=kind)
        assert response.status_code == 201, response.text
        member_id = response.json()["id"]
        if approve:
            approved = self.admin("POST", f"/v1/admin/members/{member_id}/approve", json={})
            assert approved.status_code == 200, approved.text
        return member_id, key


def _serve(app: Flask) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-hub", daemon=True
    )
    thread.start()
    return server, thread


@contextmanager
def serve_hub(
    db_url: str, data_dir: Path, *, login: bool = True, **overrides: Any
) -> Iterator[LiveHub]:
    """A migrated hub with `overrides` on a loopback port, with an admin (logged in).

    `live_hub` is this with the test defaults; the rate-limit, fuzz and
    malicious-member tests call it with settings of their own.
    """
    from hub.auth.admin_auth import create_admin
    from hub.db import get_db

    app = make_hub_app(db_url, data_dir, **overrides)
    with app.app_context(), get_db(app).new_session() as session:
        create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD, actor="test")
        session.commit()
    server, thread = _serve(app)
    consumer = None
    if overrides.get("merge_consumer", True):
        from hub.feeds.scheduler import start_consumer

        consumer = start_consumer(app, use_lease=False)  # merges behind ingest, as `serve` does
    hub = LiveHub(url=f"http://127.0.0.1:{server.server_port}", app=app, data_dir=data_dir)
    try:
        if login:
            answer = hub.http.post(
                hub.url + "/v1/admin/login",
                json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            hub.admin_token = answer.json()["token"]
        yield hub
    finally:
        server.shutdown()
        thread.join(timeout=10)
        if consumer is not None:
            from hub.feeds.scheduler import stop_consumer

            stop_consumer(app)
        server.server_close()
        hub.http.close()
        get_db(app).dispose()
