"""Reader tokens (docs/ARCHITECTURE.md §3): minted once, stored hashed, void without approval."""

from __future__ import annotations

import base64
from typing import Any

import requests
from sqlalchemy import select

from hub.db import get_db
from hub.models.tokens import ReaderToken


def _bearer(hub: Any, token: str, path: str = "/v1/consortium-key") -> requests.Response:
    return requests.get(hub.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_mint_list_use_and_revoke(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    minted = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={"label": "pbx-1"})
    assert minted.status_code == 201, minted.text
    body = minted.json()
    assert body["token"].startswith("lfr_") and body["label"] == "pbx-1"
    assert body["id"].startswith("rdt_") and body["created_at"].endswith("Z")

    listed = live_hub.member(member_id, key, "GET", "/v1/reader-tokens").json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert all("token" not in t for t in listed)

    used = _bearer(live_hub, body["token"])
    assert used.status_code == 200 and used.json()["current_epoch"] == 1

    revoked = live_hub.member(member_id, key, "DELETE", f"/v1/reader-tokens/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = _bearer(live_hub, body["token"])
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"


def test_mint_without_body_and_label(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    minted = live_hub.member(member_id, key, "POST", "/v1/reader-tokens")
    assert minted.status_code == 201 and minted.json()["label"] is None


def test_tokens_die_with_approval_and_return_on_reinstatement(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    token = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={}).json()["token"]
    live_hub.admin("POST", f"/v1/admin/members/{member_id}/suspend", json={"reason": "review"})
    suspended = _bearer(live_hub, token)
    assert suspended.status_code == 403
    assert suspended.json()["error"]["code"] == "member_not_approved"
    assert "suspended" in suspended.json()["error"]["message"]
    live_hub.admin("POST", f"/v1/admin/members/{member_id}/revoke", json={"reason": "gone"})
    assert _bearer(live_hub, token).status_code == 403


def test_other_members_cannot_revoke_or_see_my_tokens(live_hub: Any) -> None:
    alice, alice_key = live_hub.new_member()
    bob, bob_key = live_hub.new_member()
    token_id = live_hub.member(alice, alice_key, "POST", "/v1/reader-tokens", json={}).json()["id"]
    assert live_hub.member(bob, bob_key, "GET", "/v1/reader-tokens").json()["items"] == []
    attempt = live_hub.member(bob, bob_key, "DELETE", f"/v1/reader-tokens/{token_id}")
    assert attempt.status_code == 404


def test_forged_and_malformed_tokens_are_refused(live_hub: Any) -> None:
    for token in ("lfr_" + "A" * 43, "lfr_", "x" * 500):
        response = _bearer(live_hub, token)
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "invalid_token"
    basic = requests.get(
        live_hub.url + "/v1/consortium-key",
        headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        timeout=30,
    )
    assert basic.status_code == 401 and basic.json()["error"]["code"] == "invalid_token"
    nothing = requests.get(live_hub.url + "/v1/consortium-key", timeout=30)
    assert nothing.status_code == 401 and nothing.json()["error"]["code"] == "missing_signature"


def test_database_holds_only_token_hashes(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    token = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={}).json()["token"]
    with get_db(live_hub.app).new_session(write=False) as session:
        rows = list(session.scalars(select(ReaderToken)))
    assert len(rows) == 1
    stored = [str(getattr(rows[0], c.key)) for c in ReaderToken.__table__.columns]
    assert all(token not in value and token[4:] not in value for value in stored)
    assert len(rows[0].token_hash) == 64
