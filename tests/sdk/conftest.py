"""Fixtures for the SDK sync tests: a fixed clock and a miniature signing hub."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine

from tests.sdk.feedfactory import FeedFactory

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def clock_at_now(now: datetime) -> Iterator[time_machine.Coordinates]:
    """Wall clock at `now` and ticking: the factory's manifests are fresh for the test."""
    with time_machine.travel(now, tick=True) as traveller:
        yield traveller


@pytest.fixture
def factory(now: datetime) -> FeedFactory:
    return FeedFactory(now)


# ------------------------------------------------------------ static file hub


class StaticHubHandler(BaseHTTPRequestHandler):
    """Serves a directory like a CDN in front of the hub's feed tree.

    ETag / If-None-Match like the real hub; a bearer token on everything but the
    public keys.json/roots.json. It records request paths so tests can see which
    artifacts a sync downloaded.
    """

    root: Path
    token: str
    requests_seen: list[str]
    fail_once: set[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.requests_seen.append(path)
        if path in self.fail_once:
            self.fail_once.discard(path)
            self._send(503, b'{"error":{"code":"unavailable","message":"try again"}}')
            return
        public = path in ("/v1/keys.json", "/v1/roots.json")
        if not public and self.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(401, b'{"error":{"code":"unauthorized","message":"token"}}')
            return
        target = (self.root / path.lstrip("/")).resolve()
        if self.root not in target.parents or not target.is_file():
            self._send(404, b'{"error":{"code":"not_found","message":"no such file"}}')
            return
        body = target.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self._send(200, body, etag)

    def _send(self, status: int, body: bytes, etag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)


@dataclass
class StaticHub:
    url: str
    root: Path
    token: str
    requests: list[str]
    factory: FeedFactory
    fail_once: set[str]

    def publish_tree(self, **kwargs: object) -> None:
        self.factory.write(self.root, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def static_hub(tmp_path: Path, factory: FeedFactory) -> Iterator[StaticHub]:
    root = (tmp_path / "hub").resolve()
    root.mkdir()
    seen: list[str] = []
    fail_once: set[str] = set()
    token = secrets.token_urlsafe(16)
    handler = type("Handler", (StaticHubHandler,),
                   {"root": root, "token": token, "requests_seen": seen, "fail_once": fail_once})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticHub(f"http://127.0.0.1:{server.server_port}", root, token, seen, factory,
                         fail_once)
    finally:
        server.shutdown()
        server.server_close()
