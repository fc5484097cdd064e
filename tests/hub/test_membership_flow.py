"""Membership and signed requests over HTTP (docs/ARCHITECTURE.md §3), SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.request_auth import signed_headers
from schemas.signing import HEADER_SIGNATURE


def _error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_apply_approve_then_signed_request_is_accepted(live_hub: Any) -> None:
    member_id, key = live_hub.new_member(name="Bank of Lianfang", approve=False)
    assert member_id.startswith("mbr_") and len(member_id) == 20
    int(member_id[4:], 16)

    pending = live_hub.member(member_id, key, "GET", "/v1/members/me")
    assert pending.status_code == 403
    assert _error(pending)["code"] == "member_not_approved"
    assert "pending" in _error(pending)["message"]

    approved = live_hub.admin("POST", f"/v1/admin/members/{member_id}/approve", json={})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"

    me = live_hub.member(member_id, key, "GET", "/v1/members/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == member_id
    assert me.json()["name"] == "Bank of Lianfang"
    assert me.json()["state"] == "approved"


def test_application_answers_pending_with_id(live_hub: Any) -> None:
    response = live_hub.apply(Ed25519PrivateKey.generate(), name="Insurer A", kind="insurer")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "pending" and body["id"].startswith("mbr_")
    shown = live_hub.admin("GET", f"/v1/admin/members/{body['id']}")
    assert shown.status_code == 200
    assert shown.json()["kind"] == "insurer" and shown.json()["state"] == "pending"


@pytest.mark.parametrize(
    ("actions", "state"),
    [
        ([("reject", "duplicate registration")], "rejected"),
        ([("approve", None), ("suspend", "unpaid dues")], "suspended"),
        ([("approve", None), ("revoke", "left the association")], "revoked"),
    ],
)
def test_non_approved_members_are_refused(
    live_hub: Any, actions: list[tuple[str, str | None]], state: str
) -> None:
    member_id, key = live_hub.new_member(approve=False)
    for action, reason in actions:
        body = {"reason": reason} if reason else {}
        done = live_hub.admin("POST", f"/v1/admin/members/{member_id}/{action}", json=body)
        assert done.status_code == 200, done.text
    assert done.json()["state"] == state
    refused = live_hub.member(member_id, key, "GET", "/v1/members/me")
    assert refused.status_code == 403
    error = _error(refused)
    assert error["code"] == "member_not_approved"
    assert state in error["message"]
    # reader tokens cannot be minted either
    mint = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={})
    assert mint.status_code == 403 and _error(mint)["code"] == "member_not_approved"


def test_reinstated_member_is_accepted_again(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    live_hub.admin("POST", f"/v1/admin/members/{member_id}/suspend", json={"reason": "audit"})
    assert live_hub.member(member_id, key, "GET", "/v1/members/me").status_code == 403
    back = live_hub.admin("POST", f"/v1/admin/members/{member_id}/reinstate", json={})
    assert back.status_code == 200 and back.json()["state"] == "approved"
    assert live_hub.member(member_id, key, "GET", "/v1/members/me").status_code == 200


def _raw(
    hub: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> requests.Response:
    return requests.request(method, hub.url + path, data=body, headers=headers, timeout=30)


def test_bad_signature_is_refused(live_hub: Any) -> None:
    member_id, _key = live_hub.new_member()
    other = Ed25519PrivateKey.generate()
    response = live_hub.member(member_id, other, "GET", "/v1/members/me")
    assert response.status_code == 401 and _error(response)["code"] == "bad_signature"

    _member_id, key = member_id, _key
    headers = signed_headers(key, member_id, "GET", "/v1/members/me", b"")
    headers[HEADER_SIGNATURE] = "not base64!"
    garbled = _raw(live_hub, "GET", "/v1/members/me", headers)
    assert garbled.status_code == 401 and _error(garbled)["code"] == "bad_signature"


def test_signature_for_another_path_is_refused(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    headers = signed_headers(key, member_id, "GET", "/v1/reader-tokens", b"")
    response = _raw(live_hub, "GET", "/v1/members/me", headers)
    assert response.status_code == 401 and _error(response)["code"] == "bad_signature"


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_timestamp_is_refused(live_hub: Any, offset: int) -> None:
    member_id, key = live_hub.new_member()
    response = live_hub.member(member_id, key, "GET", "/v1/members/me", now=time.time() + offset)
    assert response.status_code == 401 and _error(response)["code"] == "stale_timestamp"


def test_timestamp_inside_window_is_accepted(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    response = live_hub.member(member_id, key, "GET", "/v1/members/me", now=time.time() - 250)
    assert response.status_code == 200


def test_replayed_nonce_is_refused(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    headers = signed_headers(key, member_id, "GET", "/v1/members/me", b"")
    first = _raw(live_hub, "GET", "/v1/members/me", headers)
    assert first.status_code == 200
    replay = _raw(live_hub, "GET", "/v1/members/me", headers)
    assert replay.status_code == 401 and _error(replay)["code"] == "nonce_reused"
    # the same nonce freshly signed is still a reuse
    again = live_hub.member(
        member_id, key, "GET", "/v1/members/me", nonce=headers["X-Lianfang-Nonce"]
    )
    assert again.status_code == 401 and _error(again)["code"] == "nonce_reused"


def test_tampered_body_is_refused(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    body = json.dumps({"label": "screener-1"}).encode()
    headers = signed_headers(key, member_id, "POST", "/v1/reader-tokens", body)
    headers["Content-Type"] = "application/json"
    tampered = json.dumps({"label": "screener-2"}).encode()
    response = _raw(live_hub, "POST", "/v1/reader-tokens", headers, tampered)
    assert response.status_code == 401 and _error(response)["code"] == "bad_signature"
    intact = _raw(live_hub, "POST", "/v1/reader-tokens", headers, body)
    assert intact.status_code == 201


def test_unknown_member_is_refused(live_hub: Any) -> None:
    key = Ed25519PrivateKey.generate()
    response = live_hub.member("mbr_00000000deadbeef", key, "GET", "/v1/members/me")
    assert response.status_code == 401 and _error(response)["code"] == "unknown_member"


def test_unsigned_request_is_refused(live_hub: Any) -> None:
    response = requests.get(live_hub.url + "/v1/members/me", timeout=30)
    assert response.status_code == 401 and _error(response)["code"] == "missing_signature"


def test_non_admins_are_refused_on_admin_endpoints(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    as_member = live_hub.member(member_id, key, "GET", "/v1/admin/members")
    assert as_member.status_code == 403 and _error(as_member)["code"] == "not_admin"

    token = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={}).json()["token"]
    as_reader = requests.get(
        live_hub.url + "/v1/admin/members", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert as_reader.status_code == 403 and _error(as_reader)["code"] == "not_admin"

    anonymous = requests.post(live_hub.url + f"/v1/admin/members/{member_id}/suspend", timeout=30)
    assert anonymous.status_code == 401 and _error(anonymous)["code"] == "missing_token"

    forged = requests.get(
        live_hub.url + "/v1/admin/members",
        headers={"Authorization": "Bearer lfa_forged-token-value"},
        timeout=30,
    )
    assert forged.status_code == 401 and _error(forged)["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("setup", "action", "current"),
    [
        ([], "suspend", "pending"),
        ([], "reinstate", "pending"),
        (["approve"], "approve", "approved"),
        (["approve"], "reject", "approved"),
        (["reject"], "approve", "rejected"),
        (["approve", "revoke"], "reinstate", "revoked"),
        (["approve", "revoke"], "approve", "revoked"),
    ],
)
def test_illegal_transitions_conflict(
    live_hub: Any, setup: list[str], action: str, current: str
) -> None:
    member_id, _ = live_hub.new_member(approve=False)
    for step in setup:
        done = live_hub.admin("POST", f"/v1/admin/members/{member_id}/{step}", json={"reason": "x"})
        assert done.status_code == 200, done.text
    response = live_hub.admin(
        "POST", f"/v1/admin/members/{member_id}/{action}", json={"reason": "because"}
    )
    assert response.status_code == 409
    error = _error(response)
    assert error["code"] == "illegal_transition"
    assert current in error["message"]
    assert error["fields"] == {"state": [current]}


@pytest.mark.parametrize("action", ["reject", "suspend", "revoke"])
def test_reason_is_required(live_hub: Any, action: str) -> None:
    member_id, _ = live_hub.new_member(approve=action != "reject")
    response = live_hub.admin("POST", f"/v1/admin/members/{member_id}/{action}", json={})
    assert response.status_code == 422
    assert "reason" in _error(response)["fields"]


def test_admin_member_list_filters_and_paginates(live_hub: Any) -> None:
    approved = [live_hub.new_member()[0] for _ in range(3)]
    pending = [live_hub.new_member(approve=False)[0] for _ in range(2)]
    listed = live_hub.admin("GET", "/v1/admin/members?state=pending")
    assert listed.status_code == 200
    assert {m["id"] for m in listed.json()["items"]} == set(pending)
    assert listed.json()["total"] == 2

    page1 = live_hub.admin("GET", "/v1/admin/members?state=approved&limit=2&offset=0").json()
    page2 = live_hub.admin("GET", "/v1/admin/members?state=approved&limit=2&offset=2").json()
    assert page1["total"] == 3 and len(page1["items"]) == 2 and len(page2["items"]) == 1
    assert {m["id"] for m in page1["items"] + page2["items"]} == set(approved)

    bad = live_hub.admin("GET", "/v1/admin/members?state=happy")
    assert bad.status_code == 422 and "state" in _error(bad)["fields"]


def test_unknown_member_and_action_are_404(live_hub: Any) -> None:
    missing = live_hub.admin("GET", "/v1/admin/members/mbr_0123456789abcdef")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    member_id, _ = live_hub.new_member(approve=False)
    odd = live_hub.admin("POST", f"/v1/admin/members/{member_id}/promote", json={})
    assert odd.status_code == 404 and _error(odd)["code"] == "not_found"
