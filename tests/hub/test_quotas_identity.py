"""Issue 13, items 5 and 6, as the attacks (SQLite and PostgreSQL, real hub over HTTP).

5. Quota-free flooding: one member pushes random values through the real
   `MemberClient` until the daily quota stops it with `quota_exceeded`; another
   member is unaffected; a member's lone reports past its bound stay below warn;
   a feed never publishes above its ceiling and admins are told.
6. Identity reuse: a revoked institution re-applies with the same key or the same
   registration number and is flagged with the earlier history and inherits its
   standing; two live memberships are impossible (also when racing); a member's own
   key rotation keeps its delistings.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from client_sdk import MemberClient
from client_sdk.member_client import HubError
from hub import get_config
from hub.db import get_db
from hub.feeds.builder import build_feeds
from hub.feeds.publisher import feed_paths, read_manifest
from hub.models.report import MemberStanding
from hub.services.merge import merge
from schemas.envelope import public_key_raw
from schemas.keys import b64encode
from schemas.timefmt import format_time, utcnow
from tests.console.support import signed_in, translator
from tests.helpers.hub import serve_hub
from tests.hub.reports_support import listing, rep, report, signed
from tests.hub.test_consensus_integrity import REASON, Screener, bank, victim_hash
from tests.hub.test_merge_properties import NOW as MERGE_NOW
from tests.hub.test_merge_properties import POLICY as MERGE_POLICY
from tests.hub.test_merge_properties import reports as merge_reports
from tests.hub.test_merge_properties import weights_st as merge_weights

QUOTA = 120


def numbers(count: int) -> list[str]:
    """`count` distinct random mainland mobile numbers."""
    start = secrets.randbelow(10**7)
    return [f"139{(start + i) % 10**8:08d}" for i in range(count)]


@pytest.fixture
def quota_hub(db_url, tmp_path):
    with serve_hub(db_url, tmp_path / "data", quota_new_indicators_per_day=QUOTA) as hub:
        yield hub


def standing(hub: Any, member_id: str) -> MemberStanding | None:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        row = session.scalars(
            select(MemberStanding).where(MemberStanding.member_id == member_id)
        ).first()
        if row is not None:
            session.expunge(row)
        return row


# ------------------------------------------------------------ 5. flooding


def test_a_flooding_member_is_stopped_at_its_daily_quota_and_others_are_not(
    quota_hub, tmp_path
) -> None:
    flooder, other = bank(quota_hub), bank(quota_hub)
    first = flooder.report("phone", numbers(QUOTA - 20), "fraud", 90, wait=True)
    assert first.accepted == QUOTA - 20

    with pytest.raises(HubError) as refused:
        flooder.report("phone", numbers(50), "fraud", 90, wait=True)
    error = refused.value
    assert error.status == 429 and error.code == "quota_exceeded"
    details = error.payload["error"]["details"]
    tomorrow = (utcnow() + timedelta(days=1)).date()
    assert details == {
        "quota": "new_indicators_per_day", "limit": QUOTA, "used": QUOTA - 20,
        "requested": 50, "remaining": 20,
        "resets_at": format_time(datetime(tomorrow.year, tomorrow.month, tomorrow.day,
                                          tzinfo=UTC)),
    }
    assert "new_indicators_per_day" in error.message and "resets at" in error.message

    # The refused batch stored nothing; the remaining 20 still fit, then nothing new does.
    assert flooder.report("phone", numbers(20), "fraud", 90, wait=True).accepted == 20
    raw = report(quota_hub, (flooder.member_id, flooder._key), [rep(secrets.token_hex(32))])
    assert raw.status_code == 429, raw.text
    retry_after = int(raw.headers["Retry-After"])
    assert 0 < retry_after <= 86400
    # Agreeing with numbers the hub already knows costs no quota.
    known = numbers(5)
    assert other.report("phone", known, "fraud", 90, wait=True).accepted == 5
    assert flooder.report("phone", known, "fraud", 85, wait=True).accepted == 5

    # The other member is unaffected by the flooder's exhausted quota.
    assert other.report("phone", numbers(QUOTA - 5), "fraud", 90, wait=True).accepted == QUOTA - 5

    # The quota is per UTC day: tomorrow the flooder may add new indicators again.
    with time_machine.travel(utcnow() + timedelta(seconds=retry_after + 5), tick=True):
        assert flooder.report("phone", numbers(10), "fraud", 90, wait=True).accepted == 10

    answer = quota_hub.admin("GET", "/v1/admin/quotas")
    assert answer.status_code == 200, answer.text
    used = {row["member_id"]: row for row in answer.json()["members"]}
    assert used[flooder.member_id]["new_indicators_today"] == QUOTA


def test_concurrent_batches_of_one_member_cannot_both_pass_the_quota(quota_hub) -> None:
    flooder = bank(quota_hub)
    member = (flooder.member_id, flooder._key)
    answers: list[requests.Response] = []

    def push() -> None:
        answers.append(report(quota_hub, member, [rep(secrets.token_hex(32))
                                                  for _ in range(QUOTA // 2 + 10)]))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([200, 429], [409, 200]), [a.text for a in answers]


def test_one_members_lone_reports_stop_warning_past_its_bound(db_url, tmp_path) -> None:
    with serve_hub(db_url, tmp_path / "data", policy_lone_warn_per_member=3) as hub:
        flooder, honest = bank(hub), bank(hub)
        values = numbers(6)
        assert flooder.report("phone", values, "fraud", 95, wait=True).accepted == 6
        epoch, key = flooder.consortium_key()
        member = (flooder.member_id, flooder._key)
        from schemas.indicators import hash_indicator

        tiers = [listing(hub, member, hash_indicator("phone", v, key))["tier"] for v in values]
        assert tiers.count("warn") == 3 and tiers.count("none") == 3, tiers
        screen = Screener(hub, tmp_path, honest)
        answers = [screen.after_build(v) for v in values]
        assert answers.count("warn") == 3, answers

        # A second member agreeing lifts a bounded listing: the bound is on lone reports.
        held_back = values[tiers.index("none")]
        assert honest.report("phone", [held_back], "fraud", 95, wait=True).accepted == 1
        assert screen.after_build(held_back) == "block"


def test_a_feed_never_publishes_above_its_ceiling_and_admins_are_alerted(
    db_url, tmp_path
) -> None:
    with serve_hub(db_url, tmp_path / "data", feed_max_entries=10,
                   metrics_access="addresses") as hub:
        first, second = bank(hub), bank(hub)
        screen = Screener(hub, tmp_path, first)
        early = numbers(8)
        assert first.report("phone", early, "fraud", 90, wait=True).accepted == 8
        assert screen.after_build(early[0]) == "warn"

        late = numbers(5)
        assert second.report("phone", late, "fraud", 90, wait=True).accepted == 5
        with hub.app.app_context():
            result = build_feeds(hub.app, now=utcnow())
        assert result.refused == {"phone-warn": 13}
        assert "phone-warn" not in result.published
        live = read_manifest(feed_paths(get_config(hub.app).feeds_dir, "phone-warn"))
        assert live is not None and live["signed"]["entry_count"] == 8  # the last good one
        assert screen.after_build(late[0]) != "warn"  # not published while held

        metrics = hub.http.get(hub.url + "/metrics", timeout=30).text
        assert 'lianfang_feed_held{feed="phone-warn"} 1.0' in metrics
        assert 'lianfang_feed_refused_entries{feed="phone-warn"} 13.0' in metrics
        assert "lianfang_feed_max_entries 10.0" in metrics
        quotas = hub.admin("GET", "/v1/admin/quotas").json()
        [warn] = [f for f in quotas["feeds"] if f["feed"] == "phone-warn"]
        assert warn["level"] == "held" and warn["refused_entries"] == 13
        console, _ = signed_in(hub.app)
        t = translator("zh-CN")
        dashboard = console.get("/console/dashboard").text
        assert 'id="feed-ceiling-phone-warn" data-level="held"' in dashboard
        assert t("Feed %(feed)s is held at its last version: the next one would have %(n)s "
                 "entries, above the ceiling of %(max)s. Screeners get no updates of it until "
                 "the feed is back under the ceiling.", feed="phone-warn", n=13, max=10
                 ) in dashboard
        page = console.get("/console/quotas").text
        assert 'data-feed="phone-warn" data-level="held"' in page
        assert f'data-member="{second.member_id}"' in page and 'data-used="5"' in page

        # The admin acts (revokes the second member): the held changes publish at once.
        revoked = hub.admin("POST", f"/v1/admin/members/{second.member_id}/revoke",
                            {"reason": "flooding"})
        assert revoked.status_code == 200, revoked.text
        with time_machine.travel(utcnow() + timedelta(seconds=2), tick=True):
            assert screen.after_build(early[1]) == "warn"
        quotas = hub.admin("GET", "/v1/admin/quotas").json()
        [warn] = [f for f in quotas["feeds"] if f["feed"] == "phone-warn"]
        assert warn["level"] != "held" and warn["entries"] == 8


# ------------------------------------------------------------ 6. identity reuse


def apply_raw(hub: Any, key: Ed25519PrivateKey, registration_no: str) -> requests.Response:
    return hub.http.post(hub.url + "/v1/applications", json={
        "name": "复用银行", "kind": "bank", "registration_no": registration_no,
        "contact_email": "sec@bank.example.cn",
        "public_key": b64encode(public_key_raw(key.public_key())),
    }, timeout=30)


def delisted_member(hub: Any, tmp_path: Any) -> tuple[MemberClient, str, Ed25519PrivateKey]:
    """An approved member whose report an admin delisted (weight halved, overturned)."""
    key = Ed25519PrivateKey.generate()
    registration = f"9111{secrets.token_hex(5).upper()}"
    created = apply_raw(hub, key, registration)
    assert created.status_code == 201, created.text
    member_id = created.json()["id"]
    assert hub.admin("POST", f"/v1/admin/members/{member_id}/approve", {}).status_code == 200
    client = MemberClient(hub.url, key, member_id)
    assert client.report("phone", ["13812345678"], "fraud", 95, wait=True).accepted == 1
    opener = bank(hub)
    opened = signed(hub, (opener.member_id, opener._key), "POST", "/v1/disputes",
                    {"kind": "phone", "value": victim_hash(client), "reason": REASON})
    assert opened.status_code == 202, opened.text
    done = hub.admin("POST", f"/v1/admin/disputes/{opened.json()['id']}/resolve",
                     {"resolution": "delist", "reason": "verified hotline"})
    assert done.status_code == 200, done.text
    before = standing(hub, member_id)
    assert before is not None and before.weight == 0.5 and before.delisted_count == 1
    return client, registration, key


@pytest.mark.parametrize("reuse", ["same_key", "same_registration_no"])
def test_a_revoked_member_reapplying_is_flagged_and_keeps_its_weight(
    live_hub, tmp_path, reuse
) -> None:
    old, registration, key = delisted_member(live_hub, tmp_path)
    assert live_hub.admin("POST", f"/v1/admin/members/{old.member_id}/revoke",
                          {"reason": "misreporting"}).status_code == 200

    new_key = key if reuse == "same_key" else Ed25519PrivateKey.generate()
    new_registration = (f"9111{secrets.token_hex(5).upper()}" if reuse == "same_key"
                        else registration.lower())  # spelled differently, same number
    again = apply_raw(live_hub, new_key, new_registration)
    assert again.status_code == 201, again.text
    new_id = again.json()["id"]

    shown = live_hub.admin("GET", f"/v1/admin/members/{new_id}").json()
    assert shown["reapplication_of"] == old.member_id
    [earlier] = shown["identity_history"]
    assert earlier["id"] == old.member_id and earlier["state"] == "revoked"
    assert earlier["state_reason"] == "misreporting"
    assert earlier["matched"] == (["public_key"] if reuse == "same_key" else ["registration_no"])
    assert earlier["weight"] == 0.5 and earlier["delisted_count"] == 1
    assert earlier["overturned_reports"] == 1

    console, _ = signed_in(live_hub.app)
    page = console.get("/console/applications").text
    assert f'data-reapplication="{old.member_id}"' in page
    assert f'data-earlier="{old.member_id}"' in page and "misreporting" in page
    assert translator("zh-CN")("Re-application") in page
    disputes = console.get("/console/disputes?state=all").text
    assert 'data-dispute-weight="1.0"' in disputes  # the opener's standing, shown

    assert live_hub.admin("POST", f"/v1/admin/members/{new_id}/approve", {}).status_code == 200
    carried = standing(live_hub, new_id)
    assert carried is not None and carried.weight == 0.5 and carried.delisted_count == 1
    # The overturned report binds the new membership too: it cannot re-list the number.
    client = MemberClient(live_hub.url, new_key, new_id)
    result = client.report("phone", ["13812345678"], "fraud", 95, wait=True)
    assert result.accepted == 0 and "overturned" in str(result.errors[0])


def test_two_live_memberships_for_one_institution_are_impossible(live_hub) -> None:
    key = Ed25519PrivateKey.generate()
    registration = f"9111{secrets.token_hex(5).upper()}"
    assert apply_raw(live_hub, key, registration).status_code == 201
    for other_key, other_registration, field in (
        (key, f"9111{secrets.token_hex(5).upper()}", "public_key"),
        (Ed25519PrivateKey.generate(), f" {registration[:4]}-{registration[4:]} ",
         "registration_no"),
    ):
        twin = apply_raw(live_hub, other_key, other_registration)
        assert twin.status_code == 409, twin.text
        assert twin.json()["error"]["code"] == "identity_in_use"
        assert field in twin.json()["error"]["fields"]

    # Racing applications: exactly one of them becomes a membership.
    race_key = Ed25519PrivateKey.generate()
    race_registration = f"9111{secrets.token_hex(5).upper()}"
    answers: list[int] = []

    def go() -> None:
        answers.append(apply_raw(live_hub, race_key, race_registration).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201] + [409] * 5, answers


def test_a_members_own_key_rotation_keeps_its_delistings(live_hub, tmp_path) -> None:
    client, _, old_key = delisted_member(live_hub, tmp_path)
    new_key = Ed25519PrivateKey.generate()
    answer = client.rotate_key(new_key)
    assert answer["id"] == client.member_id
    after = standing(live_hub, client.member_id)
    assert after is not None and after.weight == 0.5 and after.delisted_count == 1
    assert client.me()["key_id"] == answer["key_id"]  # signs with the new key now
    stale = signed(live_hub, (client.member_id, old_key), "GET", "/v1/members/me")
    assert stale.status_code == 401, stale.text
    # Still bound by its overturned report after the rotation.
    result = client.report("phone", ["13812345678"], "fraud", 95, wait=True)
    assert result.accepted == 0 and "overturned" in str(result.errors[0])
    # A rotation cannot take another member's key (two memberships on one key).
    other = bank(live_hub)
    with pytest.raises(HubError) as clash:
        client.rotate_key(other._key)
    assert clash.value.status == 409 and clash.value.code == "identity_in_use"


# ------------------------------------------------------------ the lone-warn bound as a property


@given(st.lists(merge_reports(), max_size=12), merge_weights)
def test_a_member_past_its_bound_never_lists_alone_and_others_are_untouched(rs, weights) -> None:
    """`lone_allowed=False` takes a listing held by one member alone down to `none`
    and changes nothing where two or more members report it; `lone_member` names
    exactly the one member whose reports alone give a non-`none` tier."""
    free = merge(rs, weights, MERGE_POLICY, MERGE_NOW)
    bounded = merge(rs, weights, MERGE_POLICY, MERGE_NOW, lone_allowed=False)
    if free.lone_member is None:
        assert bounded.tier == free.tier
    else:
        assert free.tier != "none"
        assert bounded.tier == "none" and bounded.lone_member is None
        assert bounded.score == free.score  # the consensus is still shown to admins
