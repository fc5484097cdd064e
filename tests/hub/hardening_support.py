"""Helpers for the hardening tests: a live hub with chosen settings, and signed calls.

`live_hub` (conftest) always uses the test defaults; the rate-limit and fuzz
tests need their own settings (tiny limits, or none), so they serve the same
app the same way through `serve_hub`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.request_auth import signed_headers
from schemas.signing import HEADER_MEMBER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, LiveHub, _serve, make_hub_app

SIGNATURE_HEADERS = (HEADER_MEMBER, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)


@contextmanager
def serve_hub(
    db_url: str, data_dir: Path, *, login: bool = True, **overrides: Any
) -> Iterator[LiveHub]:
    """A migrated hub with `overrides` on a loopback port, with an admin (logged in)."""
    from hub.auth.admin_auth import create_admin
    from hub.db import get_db

    app = make_hub_app(db_url, data_dir, **overrides)
    with app.app_context(), get_db(app).new_session() as session:
        create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD, actor="test")
        session.commit()
    server, thread = _serve(app)
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
        server.server_close()
        hub.http.close()
        get_db(app).dispose()


class MemberSignature(requests.auth.AuthBase):
    """requests auth that signs the *prepared* request: exact path and body bytes."""

    def __init__(self, member_id: str, key: Ed25519PrivateKey) -> None:
        self.member_id = member_id
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in (*SIGNATURE_HEADERS, "Authorization"):
            request.headers.pop(name, None)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers.update(
            signed_headers(self.key, self.member_id, request.method or "GET",
                           request.path_url, body)
        )
        return request


class Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` and no signature headers."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in SIGNATURE_HEADERS:
            request.headers.pop(name, None)
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class Anonymous(requests.auth.AuthBase):
    """No credentials at all (strips whatever a generator put in)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in (*SIGNATURE_HEADERS, "Authorization"):
            request.headers.pop(name, None)
        return request


def mint_reader_token(hub: LiveHub, member_id: str, key: Ed25519PrivateKey) -> tuple[str, str]:
    """(token id, secret) of a fresh reader token for the member."""
    answer = hub.member(member_id, key, "POST", "/v1/reader-tokens", json={"label": "t"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["token"]
