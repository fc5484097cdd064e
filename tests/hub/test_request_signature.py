"""The member signature covers `Idempotency-Key` (issue 14, scheme V2), over real HTTP.

Written as the attack: an on-path proxy between a bank and the hub puts an old
batch's `Idempotency-Key` on a new batch, so the hub would answer it as a
replay and the new reports would never be stored.
"""

from __future__ import annotations

import hashlib
from typing import Any

import requests
from sqlalchemy import func, select

from client_sdk.member_client import HubError, MemberClient
from client_sdk.request_auth import signed_headers
from hub.db import get_db
from hub.models.report import ReportBatch
from schemas.keys import b64encode
from schemas.signing import (
    HEADER_MEMBER,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    LEGACY_SIGNING_DOMAIN,
    request_signing_bytes,
)
from tests.helpers.hostile_mirror import on_path_proxy
from tests.hub.reports_support import hv, rep, report

NUMBERS = ["13812345678", "13912345678"]


def _batches(hub: Any, member_id: str) -> int:
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        return int(session.scalar(
            select(func.count()).select_from(ReportBatch).where(ReportBatch.member_id == member_id)
        ) or 0)


def test_a_proxy_swapping_in_an_old_idempotency_key_is_refused_not_replayed(live_hub) -> None:
    member_id, key = live_hub.new_member()
    keys_seen: list[str] = []

    def swap(method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        if method == "POST" and path == "/v1/reports":
            keys_seen.append(headers["Idempotency-Key"])
            headers = {**headers, "Idempotency-Key": keys_seen[0]}  # the first batch's key
        return headers

    with on_path_proxy(live_hub.url, swap) as proxy:
        client = MemberClient(proxy.url, key, member_id, max_retries=0)
        first = client.report("phone", NUMBERS, "fraud", 80)
        assert first.accepted == 2 and len(first.batch_ids) == 1
        # A daily refresh: identical content, a new call, so a new batch by intent.
        try:
            client.report("phone", NUMBERS, "fraud", 80)
            raise AssertionError("the swapped Idempotency-Key was answered")
        except HubError as exc:
            assert exc.status == 401 and exc.code == "bad_signature", exc
            assert "Idempotency-Key" in str(exc)
    assert len(keys_seen) == 2 and keys_seen[0] != keys_seen[1]
    assert _batches(live_hub, member_id) == 1
    # Without the attacker the same call is a new batch, not the old one's answer.
    direct = MemberClient(live_hub.url, key, member_id, max_retries=0)
    second = direct.report("phone", NUMBERS, "fraud", 80)
    assert second.batch_ids and second.batch_ids != first.batch_ids
    assert _batches(live_hub, member_id) == 2


def test_an_idempotency_key_added_or_removed_on_the_way_is_refused(live_hub) -> None:
    member = live_hub.new_member()
    plain = {"Idempotency-Key": None}

    def add(method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "Idempotency-Key": "attacker-chosen"}

    def remove(method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k.lower() != "idempotency-key"}

    for rewrite, sent in ((add, plain), (remove, {"Idempotency-Key": "mine-1"})):
        with on_path_proxy(live_hub.url, rewrite) as proxy:
            hub = _Via(proxy.url, live_hub)
            headers = {k: v for k, v in sent.items() if v is not None}
            answer = report(hub, member, [rep(hv())], headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "bad_signature"
        assert "Idempotency-Replayed" not in answer.headers
    assert _batches(live_hub, member[0]) == 0
    # the untouched request with its key goes through
    ok = report(live_hub, member, [rep(hv())], headers={"Idempotency-Key": "mine-1"})
    assert ok.status_code == 200, ok.text


def test_a_v1_signature_is_refused_with_its_own_code(live_hub) -> None:
    """An outdated client (scheme V1, key not covered) learns why it is refused."""
    member_id, key = live_hub.new_member()
    body = b'{"reports": []}'
    timestamp, nonce = str(int(__import__("time").time())), "legacy-nonce-0123456789"
    message = request_signing_bytes("POST", "/v1/reports", timestamp, nonce, body, member_id,
                                    domain=LEGACY_SIGNING_DOMAIN)
    headers = {
        HEADER_MEMBER: member_id, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce,
        HEADER_SIGNATURE: b64encode(key.sign(message)), "Content-Type": "application/json",
        "Idempotency-Key": "old-client",
    }
    answer = requests.post(live_hub.url + "/v1/reports", data=body, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "signature_scheme_outdated"
    # and a V2 signature over the same request is accepted as far as the signature goes
    v2 = signed_headers(key, member_id, "POST", "/v1/reports", body,
                        idempotency_key="old-client")
    fresh = requests.post(live_hub.url + "/v1/reports", data=body,
                          headers={**v2, "Content-Type": "application/json",
                                   "Idempotency-Key": "old-client"}, timeout=30)
    assert fresh.json().get("error", {}).get("code") not in {"bad_signature",
                                                             "signature_scheme_outdated"}


def test_signing_bytes_distinguish_absent_empty_and_present_keys() -> None:
    base = ("POST", "/v1/reports", "1", "n" * 16, b"{}", "mbr_0123456789abcdef")
    messages = {request_signing_bytes(*base, value) for value in (None, "", "-", "k", "k=")}
    assert len(messages) == 5
    assert hashlib.sha256(b"{}").hexdigest().encode() in request_signing_bytes(*base)


class _Via:
    """The test hub as seen through the proxy: same helpers, another URL."""

    def __init__(self, url: str, hub: Any) -> None:
        self.url = url
        self.http = requests.Session()
        self.app = hub.app
