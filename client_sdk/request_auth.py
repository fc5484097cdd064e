"""Sign member requests (docs/ARCHITECTURE.md §3, docs/FORMATS.md "Member requests").

`signed_headers` returns the four `X-Lianfang-*` headers for one request. Sign the
path exactly as it goes on the wire — with `requests`, the prepared request's
`path_url` — including `?query`, and the exact body bytes sent.

`signed_headers_for_url` is the one place the SDK turns a URL into that path:
every SDK signer (MemberClient, the feed Fetcher) calls it with the *final*
prepared URL, so a hub URL with a path prefix (`https://host/lianfang`) is
signed as `/lianfang/v1/...` by both -- the request target the hub receives
unless a reverse proxy rewrites it (docs/SDK.md, "Hub URL with a path prefix").
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.keys import b64encode
from schemas.signing import (
    HEADER_IDEMPOTENCY,
    HEADER_MEMBER,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_signing_bytes,
)


def new_nonce() -> str:
    """A fresh 32-character nonce from `[A-Za-z0-9_-]` (192 random bits)."""
    return secrets.token_urlsafe(24)


def signed_headers(
    private_key: Ed25519PrivateKey,
    member_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """The signature headers for `method path` with `body` (b"" when there is none).

    `idempotency_key` must be the `Idempotency-Key` header the request carries
    (None when it has none): the signature covers it (scheme V2), so the hub
    refuses the request if a proxy changes, adds or removes it.
    """
    timestamp = str(int(time.time() if now is None else now))
    nonce = new_nonce() if nonce is None else nonce
    message = request_signing_bytes(method, path, timestamp, nonce, body, member_id,
                                    idempotency_key)
    return {
        HEADER_MEMBER: member_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: b64encode(private_key.sign(message)),
    }


def signed_path_of(url: str) -> str:
    """The request target of `url` as sent on the wire: path (at least "/") plus `?query`.

    The fragment is never sent, so it is never signed. Pass a prepared URL
    (`requests.PreparedRequest.url`): that is the already-quoted form that goes
    on the wire, and signing anything else can disagree with what is sent.
    """
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def signed_headers_for_url(
    private_key: Ed25519PrivateKey,
    member_id: str,
    method: str,
    url: str,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """`signed_headers` for the full `url` a request is sent to (prefix included)."""
    return signed_headers(
        private_key, member_id, method.upper(), signed_path_of(url), body, now=now, nonce=nonce,
        idempotency_key=idempotency_key,
    )


def idempotency_key_of(headers: Mapping[str, str]) -> str | None:
    """The `Idempotency-Key` a request's (case-insensitive) headers carry, to sign it."""
    getter = getattr(headers, "get", None)
    value = getter(HEADER_IDEMPOTENCY) if getter is not None else None
    if value is None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(HEADER_IDEMPOTENCY.lower())
    return None if value is None else str(value)
