"""The webhook signature (schemas.webhook_signature): what the hub signs verifies, and
any change to the body, the timestamp or the secret is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.webhook_signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSignatureError,
    sign,
    verify,
)

NOW = 1_800_000_000
secrets_ = st.text(min_size=1, max_size=80)


def _headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, str(timestamp), body)}


@given(secret=secrets_, body=st.binary(max_size=200), flip=st.integers(min_value=0),
       skew=st.integers(min_value=-300, max_value=300))
def test_signed_verifies_and_any_flipped_byte_does_not(secret: str, body: bytes, flip: int,
                                                        skew: int) -> None:
    payload = b'{"x":"' + body.hex().encode() + b'"}'
    headers = _headers(secret, NOW + skew, payload)
    assert verify(secret, headers, payload, now=NOW) == {"x": body.hex()}
    index = flip % len(payload)
    tampered = payload[:index] + bytes([payload[index] ^ 1]) + payload[index + 1:]
    with pytest.raises(WebhookSignatureError):
        verify(secret, headers, tampered, now=NOW)


@given(secret=secrets_, other=secrets_, timestamp=st.integers(min_value=0, max_value=2 * NOW))
def test_wrong_secret_stale_or_moved_timestamp_is_refused(secret: str, other: str,
                                                          timestamp: int) -> None:
    body = b'{"type":"listing.tier_changed"}'
    headers = _headers(secret, timestamp, body)
    if other != secret:
        with pytest.raises(WebhookSignatureError):
            verify(other, headers, body, now=timestamp)
    moved = {**headers, TIMESTAMP_HEADER: str(timestamp + 1)}
    with pytest.raises(WebhookSignatureError):
        verify(secret, moved, body, now=timestamp)
    if abs(NOW - timestamp) > 300:
        with pytest.raises(WebhookSignatureError):
            verify(secret, headers, body, now=NOW)
    else:
        assert verify(secret, headers, body, now=NOW)["type"] == "listing.tier_changed"


@pytest.mark.parametrize("headers", [
    {}, {TIMESTAMP_HEADER: "1"}, {SIGNATURE_HEADER: "v1=00"},
    {TIMESTAMP_HEADER: "-5", SIGNATURE_HEADER: "v1=00"},
    {TIMESTAMP_HEADER: "1", SIGNATURE_HEADER: "v1=ü"},
])
def test_missing_or_malformed_headers(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookSignatureError):
        verify("s", headers, b"{}", now=1)
