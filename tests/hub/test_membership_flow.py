"""Membership over real HTTP: apply → approve → signed requests accepted."""

from __future__ import annotations

from typing import Any


def test_apply_approve_then_signed_request_is_accepted(live_hub: Any) -> None:
    member_id, key = live_hub.new_member(name="Bank of Lianfang", approve=False)
    assert member_id.startswith("mbr_") and len(member_id) == 20

    pending = live_hub.member(member_id, key, "GET", "/v1/members/me")
    assert pending.status_code == 403
    assert pending.json()["error"]["code"] == "member_not_approved"
    assert "pending" in pending.json()["error"]["message"]

    approved = live_hub.admin("POST", f"/v1/admin/members/{member_id}/approve", json={})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"

    me = live_hub.member(member_id, key, "GET", "/v1/members/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == member_id
    assert me.json()["name"] == "Bank of Lianfang"
    assert me.json()["state"] == "approved"
