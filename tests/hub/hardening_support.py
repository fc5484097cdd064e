"""Helpers for the hardening tests: signed calls as each kind of caller.

A live hub with chosen settings is `tests.helpers.hub.serve_hub` (what `live_hub`
uses with the test defaults).
"""

from __future__ import annotations

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.request_auth import idempotency_key_of, signed_headers
from schemas.signing import HEADER_MEMBER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.helpers.hub import LiveHub

SIGNATURE_HEADERS = (HEADER_MEMBER, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)


class MemberSignature(requests.auth.AuthBase):
    """requests auth that signs the *prepared* request: exact path and body bytes."""

    def __init__(self, member_id: str, key: Ed25519PrivateKey) -> None:
        self.member_id = member_id
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in (*SIGNATURE_HEADERS, "Authorization"):
            request.headers.pop(name, None)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers.update(
            signed_headers(self.key, self.member_id, request.method or "GET",
                           request.path_url, body,
                           idempotency_key=idempotency_key_of(request.headers))
        )
        return request


class Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` and no signature headers."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in SIGNATURE_HEADERS:
            request.headers.pop(name, None)
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class Anonymous(requests.auth.AuthBase):
    """No credentials at all (strips whatever a generator put in)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in (*SIGNATURE_HEADERS, "Authorization"):
            request.headers.pop(name, None)
        return request


def mint_reader_token(hub: LiveHub, member_id: str, key: Ed25519PrivateKey) -> tuple[str, str]:
    """(token id, secret) of a fresh reader token for the member."""
    answer = hub.member(member_id, key, "POST", "/v1/reader-tokens", json={"label": "t"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["token"]
