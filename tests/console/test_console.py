"""The admin console in a real browser (Debian's Chromium via Playwright) against a live hub.

Every action is checked from the outside: through the `/v1` API, a member's
signed request, the audit log, or the signed feeds a real FeedClient syncs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from client_sdk.feed_client import FeedClient
from hub.db import get_db
from hub.feeds.builder import keystore_for
from hub.models.audit import AuditEntry
from schemas.envelope import public_key_raw
from schemas.indicators import hash_indicator
from schemas.keys import fingerprint
from schemas.manifest import phone_key
from tests.console.support import build, consortium, report_numbers, seed, sign_in, submit
from tests.helpers.browser import DESKTOP, PHONE
from tests.helpers.hub import ADMIN_USERNAME

pytestmark = pytest.mark.browser

PAGES = ["dashboard", "applications", "members", "disputes", "allowlist", "groups", "audit"]


def audit_rows(hub: Any, subject: str) -> list[tuple[str, str]]:
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.subject == subject)
            .order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows]


def member_state(hub: Any, member_id: str) -> dict:
    response = hub.admin("GET", f"/v1/admin/members/{member_id}")
    assert response.status_code == 200, response.text
    return response.json()


TITLES = {
    "dashboard": "Dashboard", "applications": "Applications", "members": "Members",
    "disputes": "Disputes", "allowlist": "Allowlist", "groups": "Complaint groups",
    "audit": "Audit log",
}
CODES = ("debt_collection_abuse", "malicious_complaint", "harassment", "approved")


def test_every_page_speaks_the_browsers_language(
    live_hub: Any, page: Any, lang: str, t: Any
) -> None:
    """`lang` attribute, headings, navigation, display names instead of codes, dates."""
    data = seed(live_hub)
    page.goto(live_hub.url + "/console/login")
    expected = "zh-CN" if lang == "zh-CN" else "en"
    assert page.evaluate("document.documentElement.lang") == expected
    assert page.locator("h1").inner_text() == t("Sign in")
    sign_in(page, live_hub)
    for name, title in TITLES.items():
        page.goto(f"{live_hub.url}/console/{name}")
        assert page.evaluate("document.documentElement.lang") == expected, name
        assert page.locator("h1").inner_text().startswith(t(title)), name
        assert page.locator("nav.nav a[aria-current=page]").inner_text() == t(
            "Groups" if name == "groups" else title
        )
        # codes may sit in attributes (and the audit log's raw details), not in what people read
        visible = page.locator("main").inner_text() if name != "audit" else ""
        for code in CODES:
            assert code not in visible, (name, code)
    dashboard = live_hub.url + "/console/dashboard"
    page.goto(dashboard)
    legend = page.locator("ul.legend").first.inner_text()
    assert t("Debt collection abuse") in legend and t("Harassment") in legend
    members = page.goto(live_hub.url + "/console/members")
    assert members is not None and members.status == 200
    member_id = data["members"][0][0]
    page.goto(f"{live_hub.url}/console/members/{member_id}")
    joined = page.locator(f"dl.facts dt:text-is('{t('Joined')}') + dd").inner_text()
    if lang == "zh-CN":
        assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2}", joined), joined
        assert re.search(r"[\u4e00-\u9fff]{4}", page.locator("main").inner_text())
    else:
        assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2}\s[AP]M",
                            joined), joined
        assert not re.search(r"[\u4e00-\u9fff]", page.locator("nav.nav").inner_text())


def test_the_language_switch_in_the_page_is_remembered(live_hub: Any, browser: Any) -> None:
    """An English browser switches to Chinese with the page's link, and the choice sticks
    across pages and sign-in; switching back works the same way."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        tab = context.new_page()
        tab.goto(live_hub.url + "/console/login")
        assert tab.evaluate("document.documentElement.lang") == "en"
        assert tab.locator("#lang-switch").inner_text() == "中文"
        submit(tab, "#lang-switch")
        assert tab.evaluate("document.documentElement.lang") == "zh-CN"
        assert tab.locator("h1").inner_text() == "登录"
        sign_in(tab, live_hub)
        tab.goto(live_hub.url + "/console/members")
        assert tab.evaluate("document.documentElement.lang") == "zh-CN"
        assert tab.locator("h1").inner_text().startswith("会员机构")
        assert tab.locator("#lang-switch").inner_text() == "English"
        tab.goto(live_hub.url + "/console/members?state=approved")
        submit(tab, "#lang-switch")
        assert "state=approved" in tab.url  # the same page, in the other language
        assert tab.locator("h1").inner_text().startswith("Members")
        tab.goto(live_hub.url + "/console/audit")
        assert tab.evaluate("document.documentElement.lang") == "en"
    finally:
        context.close()


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(
    live_hub: Any, page: Any, t: Any
) -> None:
    page.goto(live_hub.url + "/console/members")
    assert page.url.startswith(live_hub.url + "/console/login")

    response = sign_in(page, live_hub)
    assert response.status == 200
    assert page.url == live_hub.url + "/console/dashboard"
    assert page.locator(".who").inner_text() == ADMIN_USERNAME
    cookie = next(c for c in page.context.cookies() if c["name"] == "lianfang_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP here; Secure is set when served over TLS
    assert cookie["value"].startswith("lfa_")
    assert ("admin:admin", "admin.login") in audit_rows(live_hub, "admin:admin")

    submit(page, "form.signout button")
    assert "/console/login" in page.url
    assert t("Signed out") in page.content()
    # the token was revoked server-side, not just forgotten by the browser
    api = live_hub.http.get(
        live_hub.url + "/v1/admin/members", headers={"Authorization": f"Bearer {cookie['value']}"}
    )
    assert api.status_code == 401
    page.goto(live_hub.url + "/console/dashboard")
    assert "/console/login" in page.url


def test_approve_a_pending_application(live_hub: Any, page: Any, t: Any) -> None:
    member_id, key = live_hub.new_member(name="Approve Me Bank", approve=False)
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/applications")
    card = page.locator(f"[data-member='{member_id}']")
    expected_fp = fingerprint(public_key_raw(key.public_key()))
    assert card.locator("code.fp").inner_text() == expected_fp
    assert "Approve Me Bank" in card.inner_text()

    response = submit(page, f"[data-member='{member_id}'] button[name=approve]")
    assert response.status == 200
    assert t("Application approved") in page.content()
    assert member_state(live_hub, member_id)["state"] == "approved"
    assert ("admin:admin", "member.approve") in audit_rows(live_hub, member_id)
    assert live_hub.member(member_id, key, "GET", "/v1/consortium-key").status_code == 200
    assert page.locator(f"[data-member='{member_id}']").count() == 0


def test_reject_needs_a_reason(live_hub: Any, page: Any) -> None:
    member_id, _key = live_hub.new_member(approve=False)
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/applications")
    card = f"[data-member='{member_id}']"
    # the server refuses an empty reason even when the browser's `required` is bypassed
    page.eval_on_selector(f"{card} input[name=reason]", "e => e.removeAttribute('required')")
    response = submit(page, f"{card} button[name=reject]")
    assert response.status == 422
    assert "reason" in page.content()
    assert member_state(live_hub, member_id)["state"] == "pending"

    page.goto(live_hub.url + "/console/applications")
    page.fill(f"{card} input[name=reason]", "registration number does not match the register")
    assert submit(page, f"{card} button[name=reject]").status == 200
    state = member_state(live_hub, member_id)
    assert state["state"] == "rejected"
    assert state["state_reason"] == "registration number does not match the register"
    assert ("admin:admin", "member.reject") in audit_rows(live_hub, member_id)


def test_suspend_refuses_the_members_signed_requests_and_reinstate_restores_them(
    live_hub: Any, page: Any, t: Any
) -> None:
    member = live_hub.new_member()
    assert live_hub.member(*member, "GET", "/v1/consortium-key").status_code == 200
    sign_in(page, live_hub)
    page.goto(live_hub.url + f"/console/members/{member[0]}")

    form = "form.action-suspend"
    page.fill(f"{form} input[name=reason]", "leaked signing key under investigation")
    page.eval_on_selector(f"{form} input[name=confirm]", "e => e.removeAttribute('required')")
    assert submit(page, f"{form} button").status == 422  # unconfirmed: refused
    assert member_state(live_hub, member[0])["state"] == "approved"

    page.goto(live_hub.url + f"/console/members/{member[0]}")
    page.fill(f"{form} input[name=reason]", "leaked signing key under investigation")
    page.check(f"{form} input[name=confirm]")
    assert submit(page, f"{form} button").status == 200
    assert t("Member suspended") in page.content()
    assert live_hub.member(*member, "GET", "/v1/consortium-key").status_code == 403
    assert ("admin:admin", "member.suspend") in audit_rows(live_hub, member[0])

    assert submit(page, "form.action-reinstate button").status == 200
    assert live_hub.member(*member, "GET", "/v1/consortium-key").status_code == 200

    page.fill("form.action-revoke input[name=reason]", "left the association")
    page.check("form.action-revoke input[name=confirm]")
    assert submit(page, "form.action-revoke button").status == 200
    assert member_state(live_hub, member[0])["state"] == "revoked"
    assert page.locator("form.action-reinstate").count() == 0  # revoked is terminal


def test_members_page_shows_report_counts_disputes_and_weight(live_hub: Any, page: Any) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    values = report_numbers(live_hub, a, ["13800138000", "13800138001"])
    report_numbers(live_hub, b, ["13800138000"])
    opened = live_hub.member(*b, "POST", "/v1/disputes", json={
        "kind": "phone", "value": values[1], "reason": "our own customer-service number",
    })
    assert opened.status_code == 202, opened.text
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/members?state=approved")
    cells = page.locator(f"tr[data-member='{a[0]}'] td").all_inner_texts()
    assert cells[3] == "2 / 2" and cells[4] == "1" and cells[5] == "1.00"
    cells = page.locator(f"tr[data-member='{b[0]}'] td").all_inner_texts()
    assert cells[3] == "1 / 1" and cells[4] == "0"


def test_resolve_a_dispute(live_hub: Any, page: Any, t: Any) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    values = report_numbers(live_hub, a, ["13800138000"])
    report_numbers(live_hub, b, ["13800138000"], category="spoofing")
    opened = live_hub.member(*b, "POST", "/v1/disputes", json={
        "kind": "phone", "value": values[0], "reason": "spoofed caller id of a real business",
    })
    assert opened.status_code == 202, opened.text
    dispute_id = opened.json()["id"]
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/disputes")
    card = page.locator(f"[data-dispute='{dispute_id}']")
    text = card.inner_text()
    assert values[0] in text and "spoofed caller id of a real business" in text
    assert t("Fraud") + t(", ") + t("Spoofed number") in text
    assert t("%(n)s (%(active)s still active)", n=2, active=2) in text
    assert "spoofing" not in text  # display names, not the protocol's codes

    card.locator("input[name=reason]").fill("checked with the operator: genuine business line")
    assert submit(page, f"[data-dispute='{dispute_id}'] button[value=delist]").status == 200
    assert t("Dispute resolved: listing delisted") in page.content()
    listed = live_hub.admin("GET", "/v1/admin/disputes?state=delisted").json()["items"]
    assert [(d["id"], d["resolved_by"]) for d in listed] == [(dispute_id, "admin:admin")]
    assert ("admin:admin", "dispute.delisted") in audit_rows(live_hub, f"dispute:{dispute_id}")


def test_allowlisting_a_number_takes_it_out_of_the_block_feed(
    live_hub: Any, page: Any, tmp_path: Path, t: Any
) -> None:
    number = "13912345678"
    a, b = live_hub.new_member(), live_hub.new_member()
    report_numbers(live_hub, a, [number])
    report_numbers(live_hub, b, [number])
    build(live_hub)
    with live_hub.app.app_context():
        root = keystore_for(live_hub.app).root_public_b64()
    token = live_hub.member(*a, "POST", "/v1/reader-tokens", json={}).json()["token"]
    client = FeedClient(live_hub.url, root, tmp_path / "state", token=token)
    assert all(r.ok for r in client.sync().values())
    _epoch, key = consortium(live_hub, a)
    listed = phone_key(hash_indicator("phone", number, key))
    assert listed in client.view("phone-block").keys.tolist()

    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/allowlist")
    page.fill("input[name=raw_number]", "+86 139 1234 5678")  # same number, other spelling
    page.fill("input[name=note]", "verified official line")
    assert submit(page, "button[name=add]").status == 200
    assert t("Number added to the allowlist") in page.content()
    assert number not in page.content() and "+86 139" not in page.content()
    # shown as a conflict: members still report an allowlisted number
    conflicts = page.locator("#allow-conflicts tbody").inner_text()
    assert hash_indicator("phone", number, key) in conflicts

    build(live_hub)
    results = client.sync()
    assert all(r.ok for r in results.values()), results
    assert listed not in client.view("phone-block").keys.tolist()
    assert listed in client.view("phone-allow").keys.tolist()

    # the raw number was never stored: not in the database files nor the audit log
    for path in (live_hub.data_dir.parent).glob("hub.sqlite3*"):
        data = path.read_bytes()
        assert b"13912345678" not in data and b"+8613912345678" not in data


def test_a_form_without_its_csrf_token_is_refused(live_hub: Any, page: Any, t: Any) -> None:
    member_id, _key = live_hub.new_member(approve=False)
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/console/applications")
    form = f"[data-member='{member_id}'] form:has(button[name=approve])"
    page.eval_on_selector(f"{form} input[name=csrf_token]", "e => e.remove()")
    response = submit(page, f"{form} button")
    assert response.status == 400
    assert t("Form expired or forged") in page.content()
    assert member_state(live_hub, member_id)["state"] == "pending"

    page.goto(live_hub.url + "/console/applications")
    page.eval_on_selector(f"{form} input[name=csrf_token]", "e => e.value = 'f'.repeat(64)")
    assert submit(page, f"{form} button").status == 400
    assert member_state(live_hub, member_id)["state"] == "pending"

    # the sign-in form is protected too (no login CSRF)
    page.context.clear_cookies()
    page.goto(live_hub.url + "/console/login")
    page.eval_on_selector("input[name=csrf_token]", "e => e.remove()")
    page.fill("input[name=username]", ADMIN_USERNAME)
    page.fill("input[name=password]", "whatever")
    assert submit(page, "button[name=sign_in]").status == 400


def test_sign_in_locks_out_after_repeated_failures(live_hub: Any, page: Any, t: Any) -> None:
    failures = live_hub.app.config["LIANFANG"].admin_max_failures
    for _ in range(failures):
        response = sign_in(page, live_hub, password="not the password")
        assert response.status == 401
        assert t("Wrong username or password.") in page.content()
    response = sign_in(page, live_hub)  # the right password, but locked
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    assert t("Too many failed sign-ins: this account is locked for a while. "
             "Try again later.") in page.content()
    assert "/console/login" in page.url
    assert not any(c["name"] == "lianfang_console" for c in page.context.cookies())
    assert ("admin:admin", "admin.locked") in audit_rows(live_hub, "admin:admin")


def test_audit_log_search_and_chain_status(live_hub: Any, page: Any, t: Any) -> None:
    member_id, _ = live_hub.new_member()
    sign_in(page, live_hub)
    page.goto(live_hub.url + f"/console/audit?subject={member_id}")
    assert t("Hash chain verified: every entry is intact and in sequence.") in page.locator(
        "#chain-status"
    ).inner_text()
    cells = page.locator("tbody tr td[data-action]")
    actions = [cells.nth(i).get_attribute("data-action") for i in range(cells.count())]
    assert actions == ["member.approve", "member.apply"]
    assert cells.first.inner_text().splitlines() == [t("Member approved"), "member.approve"]
    page.goto(live_hub.url + "/console/audit?action=member.approve&actor=admin%3A")
    assert page.locator("tbody tr").count() == 1


def test_no_page_scrolls_sideways_on_a_phone(live_hub: Any, browser: Any) -> None:
    data = seed(live_hub)
    member_id = data["members"][0][0]
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="zh-CN")
    try:
        tab = context.new_page()
        sign_in(tab, live_hub)
        shots = os.environ.get("LIANFANG_SCREENSHOTS_DIR")
        for name in [*PAGES, f"members/{member_id}"]:
            response = tab.goto(f"{live_hub.url}/console/{name}")
            assert response is not None and response.status == 200, name
            widths = tab.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1], (name, widths)
            if shots and name == "dashboard":
                tab.screenshot(path=str(Path(shots) / "dashboard-phone.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.skipif(
    not os.environ.get("LIANFANG_SCREENSHOTS_DIR"),
    reason="writes docs screenshots only when LIANFANG_SCREENSHOTS_DIR is set "
    "(scripts/screenshots.py)",
)
def test_write_screenshots(live_hub: Any, browser: Any) -> None:
    """The Chinese console (what its users see), plus the English dashboard for comparison."""
    out = Path(os.environ["LIANFANG_SCREENSHOTS_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(live_hub.url + "/console/login")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.screenshot(path=str(out / "login.png"))
        data = seed(live_hub)
        sign_in(page, live_hub)
        for name in PAGES:
            page.goto(f"{live_hub.url}/console/{name}")
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        page.goto(f"{live_hub.url}/console/members/{data['members'][0][0]}")
        page.screenshot(path=str(out / "member.png"), full_page=True)
        page.goto(f"{live_hub.url}/console/dashboard?lang=en")
        page.screenshot(path=str(out / "dashboard-en.png"), full_page=True)
    finally:
        context.close()
