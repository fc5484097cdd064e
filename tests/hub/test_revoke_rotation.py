"""Revoking a member offers rotating the consortium keys, over HTTP (issue 14, both databases).

The attack it answers: a revoked bank keeps every consortium key it ever
received, so without a rotation it could still hash numbers and read what the
feeds say about them. With `rotate_consortium_key` the revoke starts a new
epoch in the same transaction; the remaining members get it, the revoked one
cannot, and the audit log names who rotated and which revocation it answered.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from sqlalchemy import select

from hub.db import get_db
from hub.models.audit import AuditEntry
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME

REASON = "Contract terminated; the member left the consortium."
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _current_epoch(hub: Any, member: tuple[str, Any]) -> int:
    answer = hub.member(*member, "GET", "/v1/consortium-key")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["current_epoch"])


def _audit(hub: Any, action: str) -> list[AuditEntry]:
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        session.expunge_all()
        return rows


def test_revoke_with_rotation_over_the_api(live_hub: Any) -> None:
    stays, leaves = live_hub.new_member(), live_hub.new_member()
    before = _current_epoch(live_hub, stays)
    answer = live_hub.admin("POST", f"/v1/admin/members/{leaves[0]}/revoke",
                            json={"reason": REASON, "rotate_consortium_key": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "revoked" and answer.json()["rotated_epoch"] == before + 1
    assert _current_epoch(live_hub, stays) == before + 1
    refused = live_hub.member(*leaves, "GET", "/v1/consortium-key")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "member_not_approved"
    rotation = _audit(live_hub, "member.revoke_rotation")
    assert [(r.subject, json.loads(r.details)) for r in rotation] == [
        (leaves[0], {"epoch": before + 1})]
    assert rotation[0].actor.startswith("admin:")
    rotated = [r for r in _audit(live_hub, "consortium_key.rotate")
               if r.subject == f"epoch:{before + 1}"]
    assert [r.actor for r in rotated] == [rotation[0].actor]


def test_revoke_without_rotation_keeps_the_epoch_and_bad_input_names_the_field(
    live_hub: Any,
) -> None:
    stays, leaves, other = (live_hub.new_member() for _ in range(3))
    before = _current_epoch(live_hub, stays)
    bad = live_hub.admin("POST", f"/v1/admin/members/{leaves[0]}/revoke",
                         json={"reason": REASON, "rotate_consortium_key": "maybe"})
    assert bad.status_code == 422 and "rotate_consortium_key" in bad.json()["error"]["fields"]
    wrong_action = live_hub.admin("POST", f"/v1/admin/members/{other[0]}/suspend",
                                  json={"reason": REASON, "rotate_consortium_key": True})
    assert wrong_action.status_code == 422
    assert "rotate_consortium_key" in wrong_action.json()["error"]["fields"]
    plain = live_hub.admin("POST", f"/v1/admin/members/{leaves[0]}/revoke",
                           json={"reason": REASON})
    assert plain.status_code == 200 and "rotated_epoch" not in plain.json()
    assert _current_epoch(live_hub, stays) == before
    assert _audit(live_hub, "member.revoke_rotation") == []
    # revoking twice is a conflict, and a refused revoke never rotates
    again = live_hub.admin("POST", f"/v1/admin/members/{leaves[0]}/revoke",
                           json={"reason": REASON, "rotate_consortium_key": True})
    assert again.status_code == 409
    assert _current_epoch(live_hub, stays) == before


def _console(hub: Any) -> tuple[requests.Session, str]:
    browser = requests.Session()
    page = browser.get(hub.url + "/console/login", timeout=30)
    token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    done = browser.post(hub.url + "/console/login", allow_redirects=False, timeout=30, data={
        "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert done.status_code == 303, done.text
    return browser, token


def test_the_console_revoke_form_offers_rotation(live_hub: Any) -> None:
    stays, leaves = live_hub.new_member(), live_hub.new_member()
    before = _current_epoch(live_hub, stays)
    browser, _ = _console(live_hub)
    detail = browser.get(f"{live_hub.url}/console/members/{leaves[0]}", timeout=30)
    assert 'name="rotate_consortium_key"' in detail.text
    token = _TOKEN.search(detail.text).group(1)  # type: ignore[union-attr]
    done = browser.post(f"{live_hub.url}/console/members/{leaves[0]}/revoke", timeout=30,
                        allow_redirects=False, data={
                            "reason": REASON, "confirm": "yes", "csrf_token": token,
                            "rotate_consortium_key": "yes"})
    assert done.status_code == 303 and "notice=revoke_rotated" in done.headers["Location"]
    assert _current_epoch(live_hub, stays) == before + 1
    assert [r.subject for r in _audit(live_hub, "member.revoke_rotation")] == [leaves[0]]
