"""The verified-numbers console page (号码认证, issue 16), driven in a browser."""

from __future__ import annotations

from typing import Any

from client_sdk.member_client import MemberClient
from tests.console.support import sign_in, submit


def test_an_admin_verifies_and_revokes_a_members_number_in_the_console(
    live_hub: Any, page: Any, t: Any
) -> None:
    member_id, key = live_hub.new_member(name="中国工商银行股份有限公司")
    bank = MemberClient(live_hub.url, key, member_id)
    reg = bank.register_number("95588", "中国工商银行", "customer_service")

    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/numbers")
    row = page.locator(f"tr[data-id='{reg['id']}']")
    text = row.inner_text()
    assert "cn-short:95588" in text and "中国工商银行 客户服务" in text
    assert "中国工商银行股份有限公司" in text and t("Awaiting verification") in text
    # The note is required: the browser refuses an empty one, the server a short one.
    row.locator("input[name=note]").fill("published hotline, checked on icbc.com.cn")
    assert submit(page, f"tr[data-id='{reg['id']}'] button[value=verify]").status == 200
    assert t("Number verified: it is on the admin allowlist from the next build") in page.content()
    assert bank.numbers()[0]["state"] == "verified"

    page.goto(live_hub.url + "/console/numbers?state=verified")
    row = page.locator(f"tr[data-id='{reg['id']}']")
    assert t("Verified") in row.inner_text()
    row.locator("input[name=note]").fill("the bank gave the line up")
    assert submit(page, f"tr[data-id='{reg['id']}'] button[value=revoke]").status == 200
    assert bank.numbers()[0]["state"] == "revoked"
    assert page.goto(live_hub.url + "/console/numbers?state=bogus").status == 422
