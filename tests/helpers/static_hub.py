"""The SDK tests' fixed clock and a static file server standing in for the hub's CDN.

Plain helpers, not fixtures: `tests/sdk/conftest.py` builds `now` and `static_hub`
from them, and tests import `NOW` / `StaticHub` from here (not from a conftest).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.sdk.feedfactory import FeedFactory

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


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
