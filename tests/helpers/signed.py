"""One member-signed request for tests and benchmarks.

The signature covers the *prepared* request's path (with its query string, exactly
as requests encodes it) and body bytes, so the request is prepared first and signed
second; signing the caller's path string instead would fail on any query.
"""

from __future__ import annotations

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.request_auth import idempotency_key_of, signed_headers


def signed_request(
    member_id: str,
    key: Ed25519PrivateKey,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    now: float | None = None,
    nonce: str | None = None,
) -> requests.PreparedRequest:
    """`method url` with `body`, prepared and signed as `member_id`; send it with `Session.send`."""
    prepared = requests.Request(method, url, data=body, headers=headers or {}).prepare()
    prepared.headers.update(
        signed_headers(key, member_id, method, prepared.path_url, body, now=now, nonce=nonce,
                       idempotency_key=idempotency_key_of(prepared.headers))
    )
    return prepared
