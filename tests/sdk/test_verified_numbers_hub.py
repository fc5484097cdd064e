"""Verified institution numbers (号码认证, issue 16) over HTTP, driven as members and
the admin would, and as a fraudster would attack them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import HubError, MemberClient
from client_sdk.screener import CallScreener
from hub import get_config
from hub.db import get_db
from hub.feeds.builder import build_feeds
from hub.models.audit import AuditEntry
from hub.services import key_rotation

NIGHT = datetime(2026, 11, 25, 23, 30)
ICBC = "中国工商银行"


def audit_rows(app: Flask) -> list[dict[str, str]]:
    """Every audit entry as stored (action, subject, details text)."""
    with app.app_context(), get_db(app).new_session() as session:
        return [{"action": e.action, "subject": e.subject, "details": e.details, "actor": e.actor}
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def member(live_hub: Any, name: str | None = None) -> MemberClient:
    member_id, key = live_hub.new_member(name=name)
    return MemberClient(live_hub.url, key, member_id)


def decide(live_hub: Any, registration_id: int, decision: str, note: str = "checked") -> Any:
    return live_hub.admin("POST", f"/v1/admin/verified-numbers/{registration_id}",
                          json={"decision": decision, "note": note})


def screen(live_hub: Any, root_key: str, path: Path, bank: MemberClient) -> CallScreener:
    build_feeds(live_hub.app)
    feeds = FeedClient(live_hub.url, root_key, path, token=bank.mint_reader_token())
    assert all(r.ok for r in feeds.sync().values())
    return CallScreener(feeds, quiet_hours=("22:00", "08:00"))


def test_a_verified_hotline_is_allowed_in_every_spelling_and_fraud_reports_cannot_block_it(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    icbc = member(live_hub, name="中国工商银行股份有限公司")
    rogue_a, rogue_b = member(live_hub), member(live_hub)
    pending = icbc.register_number("95588", ICBC, "customer_service")
    assert pending["state"] == "pending" and pending["label"] == "中国工商银行 客户服务"
    assert pending["number"] == "cn-short:95588"
    # Pending is not verified: nothing is allowlisted yet.
    assert screen(live_hub, root_key, tmp_path / "a", icbc).check(
        "95588", at=NIGHT).action == "silence"

    listed = live_hub.admin("GET", "/v1/admin/verified-numbers?state=pending").json()["items"]
    assert [(i["id"], i["member_name"], i["display_name"]) for i in listed] == [
        (pending["id"], "中国工商银行股份有限公司", ICBC)]
    verified = decide(live_hub, pending["id"], "verify", "matches the bank's published hotline")
    assert verified.status_code == 200 and verified.json()["state"] == "verified"
    assert icbc.numbers()[0]["state"] == "verified"

    # Two members (say, fraudster-controlled) report the hotline as fraud, as spoofed
    # calls would make them: the verified number still answers allow ...
    for rogue, spelling in ((rogue_a, "９５５８８"), (rogue_b, "+86 95588")):
        assert rogue.report("phone", [spelling], "fraud", 99).accepted == 1
    screener = screen(live_hub, root_key, tmp_path / "b", icbc)
    for spelling in ("95588", "９５５８８", "+86 95588"):
        assert screener.check(spelling, at=NIGHT).reasons == ("consortium_allowlist",)
    # ... and the admin sees it as a conflict (spoofing or misuse), with counts only.
    conflicts = live_hub.admin("GET", "/v1/admin/conflicts").json()["items"]
    assert [(c["value"], c["reporter_count"], c["categories"]) for c in conflicts] == [
        (pending["value"], 2, ["fraud"])]

    # Revocation takes it off the allowlist: the reports count again at the next build.
    assert decide(live_hub, pending["id"], "revoke", "the bank gave the line up").status_code == 200
    assert screen(live_hub, root_key, tmp_path / "c", icbc).check("95588").action == "block"
    actions = [row["action"] for row in audit_rows(live_hub.app)]
    assert {"number.register", "number.verify", "number.revoke"} <= set(actions)


def test_a_member_cannot_verify_or_take_over_another_institutions_number(live_hub: Any) -> None:
    owner, squatter = member(live_hub), member(live_hub)
    # A squatter's early claim does not lock the owner out: both are pending.
    early = squatter.register_number("400-812-3456", ICBC, "customer_service")
    claim = owner.register_number("4008123456", "正规银行", "collection")
    assert early["value"] == claim["value"] and early["id"] != claim["id"]
    # Members cannot call the admin's verification, for their own claim or another's.
    for who, reg in ((squatter, early), (owner, claim)):
        with pytest.raises(HubError) as refused:
            who._request("POST", f"/v1/admin/verified-numbers/{reg['id']}",
                         {"decision": "verify", "note": "trust me"})
        assert refused.value.status in (401, 403)
    assert decide(live_hub, claim["id"], "verify").json()["state"] == "verified"
    # The squatter's pending claim was rejected, and a new claim is refused.
    assert squatter.numbers()[0]["state"] == "rejected"
    with pytest.raises(HubError) as taken:
        squatter.register_number("+86 400 812 3456", ICBC, "customer_service")
    assert taken.value.status == 409 and taken.value.code == "number_verified_elsewhere"
    # A second registration cannot be verified for the same number either.
    assert decide(live_hub, early["id"], "verify").status_code == 409
    # The squatter sees only its own registrations and cannot withdraw the owner's.
    assert [n["id"] for n in squatter.numbers()] == [early["id"]]
    with pytest.raises(HubError) as hidden:
        squatter.withdraw_number(claim["id"])
    assert hidden.value.status == 404
    assert owner.numbers()[0]["state"] == "verified"


def test_registration_input_is_validated_and_the_number_never_leaks(live_hub: Any) -> None:
    bank = member(live_hub)
    cases = [
        ({"raw_number": "99999", "display_name": ICBC, "purpose": "customer_service"},
         "raw_number"),
        ({"raw_number": "95588", "display_name": " ", "purpose": "customer_service"},
         "display_name"),
        ({"raw_number": "95588", "display_name": "银行\u202e", "purpose": "customer_service"},
         "display_name"),
        ({"raw_number": "95588", "display_name": ICBC, "purpose": "spam"}, "purpose"),
        ({"raw_number": 95588, "display_name": ICBC, "purpose": "other"}, "raw_number"),
        ({"raw_number": "95588", "display_name": "长" * 65, "purpose": "other"}, "display_name"),
        # NFKC lengthens: 20 × ㍿ is 80 characters once normalised.
        ({"raw_number": "95588", "display_name": "㍿" * 20, "purpose": "other"}, "display_name"),
        ({"raw_number": "95588", "display_name": ICBC, "purpose": "other", "x": 1}, "x"),
    ]
    for body, field in cases:
        with pytest.raises(HubError) as bad:
            bank._request("POST", "/v1/numbers", body)
        assert bad.value.status == 422 and field in bad.value.fields, (body, bad.value)
    for path, body in (("/v1/admin/verified-numbers/1", {"decision": "bless", "note": "x"}),
                       ("/v1/admin/verified-numbers/999999", {"decision": "verify",
                                                              "note": "checked"})):
        answer = live_hub.admin("POST", path, json=body)
        assert answer.status_code in (404, 422) and answer.json()["error"]["code"]
    reg = bank.register_number("010-12345678 转 8", ICBC, "notification")
    assert reg["number"] == "+861012345678;ext=8"
    assert bank.register_number("010 12345678 x8", ICBC, "notification")["id"] == reg["id"]
    rejected = decide(live_hub, reg["id"], "reject", "not the bank's line")
    assert rejected.json()["state"] == "rejected"
    assert decide(live_hub, reg["id"], "verify").status_code == 409  # rejected stays rejected
    dump = repr(audit_rows(live_hub.app))
    assert "12345678" not in dump and "95588" not in dump


def test_a_verified_number_stays_allowed_across_key_rotation_until_revoked(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    bank, a, b = member(live_hub), member(live_hub), member(live_hub)
    reg = bank.register_number("010-12345678 转 8", ICBC, "collection")
    assert decide(live_hub, reg["id"], "verify").status_code == 200
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        key_rotation.rotate(session, get_config(live_hub.app), actor="test")
        session.commit()
    for rogue in (a, b):  # the reporters hash under the new epoch
        assert rogue.consortium_key(refresh=True)[0] == reg["key_epoch"] + 1
        assert rogue.report("phone", ["010 12345678 x8"], "fraud", 95).accepted == 1
    screener = screen(live_hub, root_key, tmp_path / "a", bank)
    assert screener.check("010-12345678#8").reasons == ("consortium_allowlist",)
    # Revoking after the rotation takes it off the allowlist under every epoch.
    assert decide(live_hub, reg["id"], "revoke", "line closed").status_code == 200
    assert screen(live_hub, root_key, tmp_path / "b", bank).check(
        "010-12345678#8").action == "block"


def test_a_bank_learns_its_collection_line_is_being_marked_and_a_squatter_learns_nothing(
    live_hub: Any,
) -> None:
    bank, squatter = member(live_hub), member(live_hub)
    reporters = [member(live_hub) for _ in range(3)]
    line = bank.register_number("4008-123-456", ICBC, "collection")
    claim = squatter.register_number("400 812 3456", ICBC, "collection")  # not its number
    hotline = bank.register_number("95588", ICBC, "customer_service")
    for reg in (line, hotline):
        assert decide(live_hub, reg["id"], "verify").status_code == 200
    assert bank.number_reputation()[0]["reporters"] == "0"
    for who, category in zip(reporters, ("harassment", "fraud", "harassment"), strict=True):
        assert who.report("phone", ["+86 400 812 3456"], category, 80).accepted == 1
    bank.report("phone", ["4008123456"], "fraud", 50)  # its own report does not count
    reporters[0].report("phone", ["95588"], "legit", 90)  # nor a legit vote
    [marked, quiet] = bank.number_reputation()
    assert marked["id"] == line["id"] and marked["label"] == "中国工商银行 催收"
    assert (marked["categories"], marked["reporters"]) == (["fraud", "harassment"], "3-5")
    assert marked["first_reported"] and len(marked["first_reported"]) == 7  # YYYY-MM
    assert (quiet["categories"], quiet["reporters"], quiet["first_reported"]) == ([], "0", None)
    assert not any(r.member_id in repr(marked) for r in reporters)
    # The squatter's claim was rejected when the bank's was verified: no reputation.
    assert squatter.numbers()[0]["id"] == claim["id"]
    assert squatter.number_reputation() == []
