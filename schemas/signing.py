"""What a member signs on every request (docs/ARCHITECTURE.md §3).

The hub and the SDK must build the same bytes, so the builder lives here. The
body is bound through its SHA-256, so a proxy that rewrites the body breaks the
signature instead of changing what the member said.
"""

from __future__ import annotations

import hashlib

HEADER_MEMBER = "X-Lianfang-Member"
HEADER_TIMESTAMP = "X-Lianfang-Timestamp"
HEADER_NONCE = "X-Lianfang-Nonce"
HEADER_SIGNATURE = "X-Lianfang-Signature"

SIGNING_DOMAIN = b"LIANFANG-REQUEST-V1"
CLOCK_WINDOW_S = 300
NONCE_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


def request_signing_bytes(
    method: str, path: str, timestamp: str, nonce: str, body: bytes, member_id: str
) -> bytes:
    """The message signed with the member's Ed25519 key.

    `path` is the request path plus `?query` when there is a query string,
    exactly as sent on the wire.
    """
    return b"\n".join(
        [
            SIGNING_DOMAIN,
            member_id.encode("utf-8"),
            method.upper().encode("ascii"),
            path.encode("utf-8"),
            timestamp.encode("ascii"),
            nonce.encode("ascii"),
            hashlib.sha256(body).hexdigest().encode("ascii"),
        ]
    )
