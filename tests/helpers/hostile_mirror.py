"""A hostile mirror on loopback: forwards to the real hub, but serves chosen bytes.

Stands where a CDN, a compromised mirror or a network attacker stands between a
screener and the hub; with no overrides it is an honest relay that counts the body
bytes it served per path (`bytes_served`), which is how the delta-window tests
measure what a screener downloaded. Every path not in `overrides` is relayed to the real hub
with the screener's own headers, so the screener talks real HTTP to a real hub
except for the documents the attacker replaces.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

_RELAYED = ("Authorization", "If-None-Match", "Accept-Encoding")


@dataclass
class HostileMirror:
    url: str
    overrides: dict[str, bytes] = field(default_factory=dict)
    requests_seen: list[str] = field(default_factory=list)
    bytes_served: list[tuple[str, int]] = field(default_factory=list)
    """(path, body bytes sent) per answer, in order."""

    def bytes_since(self, mark: int, contains: str = "") -> int:
        """Body bytes served after the `mark`-th answer, for paths containing `contains`."""
        return sum(n for path, n in self.bytes_served[mark:] if contains in path)


@contextmanager
def hostile_mirror(upstream: str) -> Iterator[HostileMirror]:
    """Serve a mirror of `upstream` until the block ends."""
    mirror = HostileMirror(url="")
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            mirror.requests_seen.append(path)
            if path in mirror.overrides:
                self._send(200, mirror.overrides[path])
                return
            headers = {k: v for k in _RELAYED if (v := self.headers.get(k)) is not None}
            answer = session.get(upstream + self.path, headers=headers, timeout=30)
            self._send(answer.status_code, answer.content, answer.headers.get("ETag"))

        def _send(self, status: int, body: bytes, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
            mirror.bytes_served.append((self.path.split("?", 1)[0], 0 if status == 304
                                        else len(body)))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        session.close()


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host",
                         "content-length", "proxy-connection", "te", "upgrade"})

HeaderRewrite = Callable[[str, str, dict[str, str]], dict[str, str]]


@dataclass
class OnPathProxy:
    """An attacker on the network path: relays every request, may rewrite its headers."""

    url: str
    rewrite: HeaderRewrite
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def on_path_proxy(upstream: str, rewrite: HeaderRewrite) -> Iterator[OnPathProxy]:
    """Relay any method to `upstream` with the body untouched and the headers as
    `rewrite(method, path, headers)` returns them (it sees them before the change)."""
    proxy = OnPathProxy(url="", rewrite=rewrite)
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            return

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            proxy.seen.append((self.command, self.path, dict(headers)))
            headers = proxy.rewrite(self.command, self.path, headers)
            answer = session.request(self.command, upstream + self.path, data=body,
                                     headers=headers, timeout=60)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-encoding":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 - stdlib hook names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        session.close()
