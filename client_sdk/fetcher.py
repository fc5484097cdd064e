"""The SDK's only network code: authenticated GETs with byte limits and ETags.

Nothing fetched here is trusted; `client_sdk.trust` decides. What this module
guarantees is that an endless or oversized answer is cut off at the byte limit
(streaming, not buffering the whole body first), that timeouts apply to every
request, and that every transport or HTTP failure becomes a `FetchError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.errors import ArtifactTooLargeError, FetchError
from client_sdk.request_auth import signed_headers_for_url

MAX_METADATA_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchResult:
    """One answer: `body` None means 304 Not Modified."""

    status: int
    body: bytes | None
    etag: str | None


class Fetcher:
    """GETs against the hub with reader-token or member-signature auth."""

    def __init__(
        self,
        hub_url: str,
        *,
        token: str | None = None,
        member_id: str | None = None,
        private_key: Ed25519PrivateKey | None = None,
        timeout_s: float = 10,
        session: requests.Session | None = None,
        user_agent: str = "lianfang-sdk",
    ) -> None:
        if (member_id is None) != (private_key is None):
            raise ValueError("member signing needs both member_id and private_key")
        self.base = hub_url.rstrip("/")
        self.token = token
        self.member_id = member_id
        self.private_key = private_key
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def _auth_headers(self, url: str) -> dict[str, str]:
        """Headers that authenticate a GET of the final, prepared `url`."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        if self.member_id is not None and self.private_key is not None:
            return signed_headers_for_url(self.private_key, self.member_id, "GET", url, b"")
        return {}

    def get(
        self,
        path: str,
        *,
        max_bytes: int = MAX_METADATA_BYTES,
        etag: str | None = None,
        auth: bool = True,
        too_large: type[Exception] = ArtifactTooLargeError,
    ) -> FetchResult:
        """GET `hub_url + path`; stops reading past `max_bytes` and raises `too_large`."""
        headers: dict[str, str] = {"Accept-Encoding": "identity"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            # Prepared first so the signature covers exactly the URL that is sent.
            prepared = self.session.prepare_request(
                requests.Request("GET", self.base + path, headers=headers)
            )
            if auth:
                prepared.headers.update(self._auth_headers(prepared.url or ""))
            settings = self.session.merge_environment_settings(
                prepared.url, {}, True, None, None
            )
            response = self.session.send(
                prepared, timeout=self.timeout_s, allow_redirects=False, **settings
            )
        except requests.RequestException as exc:
            raise FetchError(f"GET {path}: {type(exc).__name__}") from exc
        with response:
            if response.status_code == 304:
                return FetchResult(304, None, response.headers.get("ETag") or etag)
            if response.status_code != 200:
                raise FetchError(
                    f"GET {path}: HTTP {response.status_code}{_error_detail(response)}",
                    status=response.status_code,
                )
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise too_large(f"GET {path}: {declared} bytes announced, limit {max_bytes}")
            body = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise too_large(f"GET {path}: more than {max_bytes} bytes")
            except requests.RequestException as exc:
                raise FetchError(f"GET {path}: {type(exc).__name__} while reading") from exc
            return FetchResult(200, bytes(body), response.headers.get("ETag"))

    def close(self) -> None:
        self.session.close()


def _error_detail(response: requests.Response) -> str:
    """The hub's `{"error": {"code"}}`, if it sent one (short: errors get logged)."""
    try:
        raw = response.raw.read(4096, decode_content=True)
        doc: Any = json.loads(raw)
        return f" ({doc['error']['code']})"
    except (ValueError, KeyError, TypeError, OSError, requests.RequestException):
        return ""
