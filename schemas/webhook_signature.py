"""How webhook events are signed (issue 19), shared by the hub (signs) and the SDK (verifies).

`Lianfang-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
`Lianfang-Webhook-Timestamp` the Unix time of sending: the timestamp is signed so a
captured delivery cannot be replayed outside the tolerance window; the receiver compares
in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "Lianfang-Webhook-Signature"
TIMESTAMP_HEADER = "Lianfang-Webhook-Timestamp"
DELIVERY_HEADER = "Lianfang-Webhook-Delivery"
DEFAULT_TOLERANCE_S = 300


class WebhookSignatureError(ValueError):
    """The event is not from the hub holding this webhook's secret, or is too old."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise WebhookSignatureError(f"missing {name} header")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The event as a dict when `body` is signed with `secret` within `tolerance_s`."""
    timestamp = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if not timestamp.isdigit():
        raise WebhookSignatureError("malformed timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), given.encode("utf-8")):
        raise WebhookSignatureError("signature does not match")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        raise WebhookSignatureError("timestamp outside the tolerance window")
    event = json.loads(body)
    if not isinstance(event, dict):
        raise WebhookSignatureError("event is not an object")
    return event
