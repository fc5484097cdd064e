"""Issue 13 over real HTTP (SQLite and PostgreSQL): malicious members against a real hub,
honest members on the real `MemberClient`, and a real `FeedClient` + `CallScreener`
answering calls. Each test is the attack; its asserts are what must hold instead."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import time_machine
from sqlalchemy import select

from client_sdk import CallScreener, FeedClient, MemberClient
from hub import get_config
from hub.db import get_db
from hub.feeds.builder import build_feeds, keystore_for
from hub.models.audit import AuditEntry
from hub.models.report import MemberStanding
from hub.services.key_rotation import rotate
from schemas.indicators import hash_indicator
from schemas.timefmt import format_time, utcnow
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.hub.reports_support import listing, rep, report, signed

VICTIM = "13812345678"
REASON = "This number is our verified customer-service hotline."


class Screener:
    """A bank's call screener: the real SDK, synced after each hub build."""

    def __init__(self, hub: Any, tmp_path: Path, bank: MemberClient) -> None:
        with hub.app.app_context():
            root = keystore_for(hub.app).root_public_b64()
        self.hub = hub
        self.feeds = FeedClient(
            hub.url, root, tmp_path / f"screener-{secrets.token_hex(3)}",
            token=bank.mint_reader_token(),
        )
        self.screener = CallScreener(self.feeds)

    def after_build(self, number: str) -> str:
        build_feeds(self.hub.app, now=utcnow())
        results = self.feeds.sync()
        assert all(r.ok for r in results.values()), results
        return self.screener.check(number).action


def bank(hub: Any) -> MemberClient:
    member_id, key = hub.new_member()
    return MemberClient(hub.url, key, member_id)


def raw_member(hub: Any) -> tuple[str, Any]:
    """A member that signs its own requests: it can send any well-formed value."""
    return hub.new_member()


def collider(value: str) -> str:
    """Same first 64 bits (the phone feed key), different hub indicator."""
    tail = secrets.token_hex(24)
    return value[:16] + (tail if tail != value[16:] else "0" * 48)


def victim_hash(member: MemberClient, number: str = VICTIM) -> str:
    epoch, key = member.consortium_key()
    return hash_indicator("phone", number, key)


def assert_collider_refused(response: Any, field: str = "reports.0.value") -> None:
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    node: Any = fields
    for part in field.split("."):
        node = node[part]
    assert any("feed key" in text for text in node), fields


# ------------------------------------------------------- 1. feed-key collisions


def test_one_member_cannot_remove_a_warned_number_with_a_collider(live_hub, tmp_path) -> None:
    honest = bank(live_hub)
    assert honest.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, honest)
    assert screen.after_build(VICTIM) == "warn"

    attacker = raw_member(live_hub)
    fake = collider(victim_hash(honest))
    assert_collider_refused(report(live_hub, attacker, [rep(fake, confidence=95)]))
    retract = signed(live_hub, attacker, "POST", "/v1/reports/retract",
                     {"items": [{"kind": "phone", "value": fake}]})
    assert retract.status_code in (200, 404, 422), retract.text
    assert screen.after_build(VICTIM) == "warn"
    assert listing(live_hub, attacker, victim_hash(honest))["tier"] == "warn"


def test_two_members_cannot_expire_a_blocked_number_out_of_the_feed(live_hub, tmp_path) -> None:
    first, second = bank(live_hub), bank(live_hub)
    for member in (first, second):
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, first)
    assert screen.after_build(VICTIM) == "block"

    fake = collider(victim_hash(first))
    soon = format_time(utcnow() + timedelta(hours=1))
    for attacker in (raw_member(live_hub), raw_member(live_hub)):
        assert_collider_refused(
            report(live_hub, attacker, [rep(fake, confidence=95, expires_at=soon)])
        )
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        assert screen.after_build(VICTIM) == "block"


def test_two_members_cannot_allowlist_a_blocked_number_through_a_collider(
    live_hub, tmp_path
) -> None:
    first, second = bank(live_hub), bank(live_hub)
    for member in (first, second):
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, first)
    assert screen.after_build(VICTIM) == "block"
    fake = collider(victim_hash(first))
    for attacker in (raw_member(live_hub), raw_member(live_hub)):
        assert_collider_refused(report(live_hub, attacker, [rep(fake, "legit", 90)]))
    assert screen.after_build(VICTIM) == "block"


def test_an_overturned_reporter_cannot_relist_through_a_collider(live_hub, tmp_path) -> None:
    honest = bank(live_hub)
    screen = Screener(live_hub, tmp_path, honest)
    attacker = raw_member(live_hub)
    value = victim_hash(honest)
    assert report(live_hub, attacker, [rep(value, confidence=95)]).status_code == 200
    assert screen.after_build(VICTIM) == "warn"
    opened = signed(live_hub, honest_raw := raw_member(live_hub), "POST", "/v1/disputes",
                    {"kind": "phone", "value": value, "reason": REASON})
    assert opened.status_code == 202, opened.text
    done = live_hub.admin("POST", f"/v1/admin/disputes/{opened.json()['id']}/resolve",
                          {"resolution": "delist", "reason": "verified hotline"})
    assert done.status_code == 200, done.text
    before = screen.after_build(VICTIM)
    assert before != "warn" and before != "block"

    assert_collider_refused(report(live_hub, attacker, [rep(collider(value), confidence=95)]))
    assert screen.after_build(VICTIM) == before
    assert honest_raw  # the disputer is an ordinary member


def test_a_mixed_batch_keeps_its_honest_items_and_refuses_the_collider(live_hub) -> None:
    honest = bank(live_hub)
    attacker = raw_member(live_hub)
    value = victim_hash(honest)
    assert honest.report("phone", [VICTIM], "fraud", 95).accepted == 1
    other = hash_indicator("phone", "13900001111", honest.consortium_key()[1])
    answer = report(live_hub, attacker, [rep(other), rep(collider(value))])
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    [problem] = answer.json()["errors"]
    assert problem["index"] == 1 and "feed key" in problem["fields"]["value"][0]


def test_case_and_admin_allowlist_refuse_a_collider_naming_the_field(live_hub) -> None:
    honest = bank(live_hub)
    assert honest.report("phone", [VICTIM], "fraud", 95).accepted == 1
    value = victim_hash(honest)
    attacker = raw_member(live_hub)
    case = signed(live_hub, attacker, "POST", "/v1/cases", {
        "category": "malicious_complaint", "key_epoch": 1, "observed_at": format_time(utcnow()),
        "indicators": [{"kind": "phone", "value": collider(value)},
                       {"kind": "phone", "value": secrets.token_hex(32)}],
    })
    assert case.status_code == 422, case.text
    assert "indicators" in case.json()["error"]["fields"]
    admin = live_hub.admin("POST", "/v1/admin/allowlist",
                           {"kind": "phone", "value": collider(value), "key_epoch": 1})
    assert admin.status_code == 422, admin.text
    assert "feed key" in admin.json()["error"]["fields"]["value"][0]


# ------------------------------------------------------- 2. epoch label poisoning


def rotate_key(hub: Any) -> int:
    with hub.app.app_context(), get_db(hub.app).new_session(write=True) as session:
        epoch = rotate(session, get_config(hub.app), actor="test")
        session.commit()
    return epoch


def test_a_wrong_epoch_label_cannot_take_honest_reports_out_of_the_feeds(
    live_hub, tmp_path
) -> None:
    first, second = bank(live_hub), bank(live_hub)
    attacker = raw_member(live_hub)
    assert rotate_key(live_hub) == 2  # epoch 1 retiring, epoch 2 current
    _, key2 = first.consortium_key(refresh=True)
    value = hash_indicator("phone", VICTIM, key2)
    # The attacker inserts the epoch-2 hash first, labelled as epoch 1.
    poisoned = report(live_hub, attacker, [rep(value, confidence=95)])
    assert poisoned.status_code == 200, poisoned.text
    for member in (first, second):
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, first)
    assert screen.after_build(VICTIM) == "block"

    assert rotate_key(live_hub) == 3  # epoch 1 retires: only the attacker's report goes
    assert screen.after_build(VICTIM) == "block"
    view = listing(live_hub, attacker, value)
    assert view["tier"] == "block" and view["reporter_count"] == 2


def test_retiring_an_epoch_removes_exactly_the_reports_made_under_it(live_hub, tmp_path) -> None:
    first, second = bank(live_hub), bank(live_hub)
    for member in (first, second):
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, first)
    assert screen.after_build(VICTIM) == "block"
    old = victim_hash(first)
    rotate_key(live_hub)
    for member in (first, second):
        member.consortium_key(refresh=True)
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    assert screen.after_build(VICTIM) == "block"
    rotate_key(live_hub)  # epoch 1 retired: its hash leaves, epoch 2's stays
    assert screen.after_build(VICTIM) == "block"
    assert listing(live_hub, raw_member(live_hub), old)["tier"] == "none"


# ------------------------------------------------- 3. two legit votes beat any block

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def console(hub: Any) -> tuple[requests.Session, str]:
    """An admin signed in to the web console over HTTP (form login, CSRF token)."""
    web = requests.Session()
    token = TOKEN.search(web.get(hub.url + "/console/login", timeout=30).text).group(1)
    done = web.post(hub.url + "/console/login", timeout=30, allow_redirects=False, data={
        "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert done.status_code == 303, done.text
    page = web.get(hub.url + "/console/conflicts", timeout=30)
    assert page.status_code == 200, page.text
    return web, TOKEN.search(page.text).group(1)


def delisted_three_times(hub: Any) -> tuple[str, Any]:
    """A member whose reports were overturned three times (weight 0.125)."""
    member = raw_member(hub)
    disputer = raw_member(hub)
    for _ in range(3):
        value = secrets.token_hex(32)
        assert report(hub, member, [rep(value, confidence=95)]).status_code == 200
        opened = signed(hub, disputer, "POST", "/v1/disputes",
                        {"kind": "phone", "value": value, "reason": REASON})
        assert opened.status_code == 202, opened.text
        done = hub.admin("POST", f"/v1/admin/disputes/{opened.json()['id']}/resolve",
                         {"resolution": "delist", "reason": "not a fraud number"})
        assert done.status_code == 200, done.text
    return member


def blocked_by_six(hub: Any, tmp_path: Path) -> tuple[Screener, str]:
    reporters = [bank(hub) for _ in range(6)]
    for member in reporters:
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(hub, tmp_path, reporters[0])
    assert screen.after_build(VICTIM) == "block"
    return screen, victim_hash(reporters[0])


def test_two_legit_votes_against_six_fraud_reports_leave_the_number_blocked(
    live_hub, tmp_path
) -> None:
    screen, value = blocked_by_six(live_hub, tmp_path)
    for voter in (delisted_three_times(live_hub), raw_member(live_hub)):
        assert report(live_hub, voter, [rep(value, "legit", 100)]).status_code == 200
    assert screen.after_build(VICTIM) == "block"
    view = listing(live_hub, raw_member(live_hub), value)
    assert view["tier"] == "block" and view["allowlisted"] is False
    # ... and the admin is shown nothing: the weighted votes (1.125) are not a consensus.
    listed = live_hub.admin("GET", "/v1/admin/allowlist-conflicts")
    assert listed.status_code == 200 and listed.json()["items"] == []


def test_a_consensus_allowlist_against_a_block_waits_for_an_admin_who_keeps_it(
    live_hub, tmp_path
) -> None:
    screen, value = blocked_by_six(live_hub, tmp_path)
    for voter in (raw_member(live_hub), raw_member(live_hub)):
        assert report(live_hub, voter, [rep(value, "legit", 100)]).status_code == 200
    assert screen.after_build(VICTIM) == "block"
    [conflict] = live_hub.admin("GET", "/v1/admin/allowlist-conflicts").json()["items"]
    assert conflict["value"] == value and conflict["tier"] == "block"
    assert conflict["legit_votes"] == 2
    web, token = console(live_hub)
    assert value in web.get(live_hub.url + "/console/conflicts", timeout=30).text
    kept = web.post(live_hub.url + "/console/conflicts/decide", timeout=30, data={
        "kind": "phone", "value": value, "decision": "keep", "note": "fraud confirmed",
        "csrf_token": token})
    assert kept.status_code == 200 and 'role="status"' in kept.text  # followed the 303
    assert value not in web.get(live_hub.url + "/console/conflicts", timeout=30).text
    assert screen.after_build(VICTIM) == "block"
    assert live_hub.admin("GET", "/v1/admin/allowlist-conflicts").json()["items"] == []
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        decisions = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "allowlist.conflict")).all()
    assert [e.actor for e in decisions] == [f"admin:{ADMIN_USERNAME}"]
    assert "keep" in decisions[0].details


def test_an_admin_allow_settles_a_conflict_and_wins(live_hub, tmp_path) -> None:
    screen, value = blocked_by_six(live_hub, tmp_path)
    for voter in (raw_member(live_hub), raw_member(live_hub)):
        assert report(live_hub, voter, [rep(value, "legit", 100)]).status_code == 200
    decided = live_hub.admin("POST", f"/v1/admin/allowlist-conflicts/phone/{value}",
                             {"decision": "allow", "note": "verified hotline"})
    assert decided.status_code == 200, decided.text
    assert screen.after_build(VICTIM) == "allow"
    view = listing(live_hub, raw_member(live_hub), value)
    assert view["allowlisted"] is True and view["allow_source"] == "admin"
    again = live_hub.admin("POST", f"/v1/admin/allowlist-conflicts/phone/{value}",
                           {"decision": "keep"})
    assert again.status_code == 404
    bad = live_hub.admin("POST", f"/v1/admin/allowlist-conflicts/phone/{value}",
                         {"decision": "burn"})
    assert bad.status_code == 422 and "decision" in bad.json()["error"]["fields"]


# ------------------------------------------------------ 4. dispute loops and dodges


def dispute(hub: Any, member: Any, value: str, **extra: Any) -> Any:
    return signed(hub, member, "POST", "/v1/disputes",
                  {"kind": "phone", "value": value, "reason": REASON, **extra})


def standing(hub: Any, member_id: str) -> MemberStanding:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        row = session.get(MemberStanding, member_id)
        assert row is not None
        session.expunge(row)
        return row


def resolve(hub: Any, dispute_id: int, resolution: str) -> None:
    done = hub.admin("POST", f"/v1/admin/disputes/{dispute_id}/resolve",
                     {"resolution": resolution, "reason": "checked the evidence"})
    assert done.status_code == 200, done.text


def test_reopening_after_every_uphold_cannot_hold_a_blocked_number_at_warn(
    live_hub, tmp_path
) -> None:
    first, second = bank(live_hub), bank(live_hub)
    for member in (first, second):
        assert member.report("phone", [VICTIM], "fraud", 95).accepted == 1
    screen = Screener(live_hub, tmp_path, first)
    value = victim_hash(first)
    attacker = raw_member(live_hub)
    opened = dispute(live_hub, attacker, value)
    assert opened.status_code == 202, opened.text
    assert screen.after_build(VICTIM) == "warn"  # held while open
    resolve(live_hub, opened.json()["id"], "uphold")
    assert screen.after_build(VICTIM) == "block"

    again = dispute(live_hub, attacker, value)
    assert again.status_code == 409 and again.json()["error"]["code"] == "dispute_cooling_off"
    assert "evidence" in again.json()["error"]["fields"]
    # New evidence is heard, but holds nothing until an admin accepts it.
    pending = dispute(live_hub, attacker, value, evidence="Contract no. 2026-118 attached.")
    # The member's answer is a receipt (the same for every dispute, issue 13 item 7);
    # the association sees that it is pending.
    assert pending.status_code == 202 and pending.json()["state"] == "received"
    assert screen.after_build(VICTIM) == "block"
    listed = live_hub.admin("GET", "/v1/admin/disputes?state=pending").json()["items"]
    [item] = [d for d in listed if d["id"] == pending.json()["id"]]
    assert item["evidence"].startswith("Contract") and item["opened_by_member"] == attacker[0]
    assert item["opened_by_institution"]
    resolve(live_hub, item["id"], "uphold")
    assert screen.after_build(VICTIM) == "block"
    dismissed = standing(live_hub, attacker[0])
    assert (dismissed.dismissed_count, dismissed.dispute_weight) == (2, 0.25)
    with time_machine.travel(utcnow() + timedelta(days=31), tick=True):
        late = dispute(live_hub, attacker, value)
        assert late.status_code == 202, late.text
    states = {d["id"]: d["state"]
              for d in live_hub.admin("GET", "/v1/admin/disputes").json()["items"]}
    assert states[late.json()["id"]] == "open"


def test_retracting_during_a_dispute_does_not_escape_the_delisting(live_hub, tmp_path) -> None:
    honest = bank(live_hub)
    screen = Screener(live_hub, tmp_path, honest)
    value = victim_hash(honest)
    reporter = raw_member(live_hub)
    assert report(live_hub, reporter, [rep(value, confidence=95)]).status_code == 200
    assert screen.after_build(VICTIM) == "warn"
    opened = dispute(live_hub, raw_member(live_hub), value)
    assert opened.status_code == 202, opened.text
    retract = signed(live_hub, reporter, "POST", "/v1/reports/retract",
                     {"items": [{"kind": "phone", "value": value}]})
    assert retract.status_code == 200 and retract.json()["retracted"] == 1
    resolve(live_hub, opened.json()["id"], "delist")
    assert standing(live_hub, reporter[0]).weight == 0.5  # the retracted report counted
    again = report(live_hub, reporter, [rep(value, confidence=95)])
    assert again.status_code == 422, again.text
    assert "overturned" in again.text
    assert screen.after_build(VICTIM) not in ("warn", "block")
