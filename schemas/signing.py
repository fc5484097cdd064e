"""What a member signs on every request (docs/ARCHITECTURE.md §3).

The hub and the SDK must build the same bytes, so the builder lives here. The
body is bound through its SHA-256, so a proxy that rewrites the body breaks the
signature instead of changing what the member said.

Scheme V2 (issue 14) also covers the `Idempotency-Key` header: under V1 an
on-path proxy could put an old batch's key on a new batch and have the hub
answer it as a replay. The hub accepts V2 only (the SDK and the hub ship
together); a request that still verifies under V1 is refused with its own code,
`signature_scheme_outdated`, so an old client learns why (docs/FORMATS.md).
"""

from __future__ import annotations

import hashlib

HEADER_MEMBER = "X-Lianfang-Member"
HEADER_TIMESTAMP = "X-Lianfang-Timestamp"
HEADER_NONCE = "X-Lianfang-Nonce"
HEADER_SIGNATURE = "X-Lianfang-Signature"
HEADER_IDEMPOTENCY = "Idempotency-Key"

SIGNING_DOMAIN = b"LIANFANG-REQUEST-V2"
LEGACY_SIGNING_DOMAIN = b"LIANFANG-REQUEST-V1"
CLOCK_WINDOW_S = 300
NONCE_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


def idempotency_line(idempotency_key: str | None) -> bytes:
    """The signed line for the `Idempotency-Key` header: `-` when absent, `k=<value>` else.

    Absent and present are distinct lines (no value encodes to `-`), so a proxy
    can neither add, remove nor change the header without breaking the signature.
    Header values cannot hold a newline, so the line cannot shift the next one.
    """
    if idempotency_key is None:
        return b"-"
    return b"k=" + idempotency_key.encode("utf-8", "surrogateescape")


def request_signing_bytes(
    method: str, path: str, timestamp: str, nonce: str, body: bytes, member_id: str,
    idempotency_key: str | None = None, *, domain: bytes = SIGNING_DOMAIN,
) -> bytes:
    """The message signed with the member's Ed25519 key.

    `path` is the request path plus `?query` when there is a query string,
    exactly as sent on the wire. `idempotency_key` is the `Idempotency-Key`
    header as sent (None when the request has none). `domain=LEGACY_SIGNING_DOMAIN`
    builds the V1 message (no idempotency line), only so the hub can name an
    outdated client.
    """
    lines = [
        domain,
        member_id.encode("utf-8"),
        method.upper().encode("ascii"),
        path.encode("utf-8"),
        timestamp.encode("ascii"),
        nonce.encode("ascii"),
    ]
    if domain != LEGACY_SIGNING_DOMAIN:
        lines.append(idempotency_line(idempotency_key))
    lines.append(hashlib.sha256(body).hexdigest().encode("ascii"))
    return b"\n".join(lines)
