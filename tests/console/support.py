"""Helpers for the console browser tests: sign in, member traffic, feed builds, seed data."""

from __future__ import annotations

import gettext
import re
import secrets
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from hub.console.i18n import TRANSLATIONS
from hub.feeds.builder import build_feeds
from schemas.indicators import hash_indicator
from schemas.keys import b64decode
from schemas.timefmt import format_time, utcnow
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME

Member = tuple[str, Ed25519PrivateKey]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(app: Flask, base_url: str = "http://localhost") -> tuple[FlaskClient, str]:
    """A test client signed in to the console, and its CSRF token."""
    client = app.test_client()
    page = client.get("/console/login", base_url=base_url)
    token = TOKEN.search(page.text).group(1)
    done = client.post(
        "/console/login",
        data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": token},
        base_url=base_url,
    )
    assert done.status_code == 303, done.text
    token = TOKEN.search(client.get("/console/dashboard", base_url=base_url).text).group(1)
    return client, token


def translator(lang: str) -> Callable[..., str]:
    """`t(msgid, **values)`: the console's text in `lang` (`zh-CN`/`en-US`), from the
    compiled catalog the hub itself serves (so a test reads what a user reads)."""
    if lang.startswith("en"):
        catalog: gettext.NullTranslations = gettext.NullTranslations()
    else:
        catalog = gettext.translation("messages", TRANSLATIONS, languages=["zh_Hans_CN"])

    def t(msgid: str, **values: Any) -> str:
        text = catalog.gettext(msgid)
        return text % values if values else text

    return t


def sign_in(page: Any, hub: Any, password: str = ADMIN_PASSWORD) -> Any:
    """Fill and submit the sign-in form; returns the navigation response."""
    page.goto(hub.url + "/console/login")
    page.fill("input[name=username]", ADMIN_USERNAME)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as nav:
        page.click("button[name=sign_in]")
    return nav.value


def submit(page: Any, selector: str) -> Any:
    """Click a submit button and return the response of the page it leads to."""
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def consortium(hub: Any, member: Member) -> tuple[int, bytes]:
    doc = hub.member(*member, "GET", "/v1/consortium-key").json()
    current = doc["current_epoch"]
    key = next(k["key"] for k in doc["keys"] if k["epoch"] == current)
    return current, b64decode(key, length=32)


def report_numbers(
    hub: Any, member: Member, numbers: list[str], category: str = "fraud", confidence: int = 95
) -> list[str]:
    """Report raw numbers the way a member does: hashed locally; returns the hashes."""
    epoch, key = consortium(hub, member)
    values = [hash_indicator("phone", n, key) for n in numbers]
    reports = [
        {"kind": "phone", "value": v, "category": category, "confidence": confidence,
         "key_epoch": epoch}
        for v in values
    ]
    response = hub.member(*member, "POST", "/v1/reports", json={"reports": reports})
    assert response.status_code == 200, response.text
    return values


def submit_case(hub: Any, member: Member, indicators: list[dict[str, str]], ref: str) -> None:
    epoch, _ = consortium(hub, member)
    body = {"case_ref": ref, "indicators": indicators, "key_epoch": epoch,
            "observed_at": format_time(utcnow())}
    response = hub.member(*member, "POST", "/v1/cases", json=body)
    assert response.status_code in (200, 201), response.text


def build(hub: Any) -> Any:
    """One feed build, in-process, as the scheduler job runs it."""
    result = build_feeds(hub.app)
    assert not result.busy
    return result


def seed(hub: Any) -> dict[str, Any]:
    """Enough data that every console page has something on it (for layout and screenshots)."""
    for name, kind in (("Zhejiang Rural Credit Union 浙江农信", "bank"),
                       ("Xiaoyu Consumer Finance 小鱼消费金融", "lender")):
        key = Ed25519PrivateKey.generate()
        assert hub.apply(key, name=name, kind=kind).status_code == 201
    a = hub.new_member("Harbour City Commercial Bank 港城商业银行")
    b = hub.new_member("Pearl River Payments 珠江支付", kind="payment")
    c = hub.new_member("Northern Mutual Insurance 北方互助保险", kind="insurer")
    fraud = [f"1380013{n:04d}" for n in range(8)]
    harass = [f"1391234{n:04d}" for n in range(5)]
    report_numbers(hub, a, fraud)
    report_numbers(hub, b, fraud[:6], confidence=90)
    build(hub)
    report_numbers(hub, a, harass, category="harassment", confidence=85)
    report_numbers(hub, c, harass[:3], category="harassment", confidence=90)
    report_numbers(hub, c, ["13700137000"], category="debt_collection_abuse", confidence=60)
    disputed = hash_indicator("phone", fraud[0], consortium(hub, a)[1])
    opened = hub.member(*c, "POST", "/v1/disputes", json={
        "kind": "phone", "value": disputed,
        "reason": "这是本机构的外呼客服专线，已通过通话记录核实。",
    })
    assert opened.status_code == 202, opened.text
    allowed = hub.admin("POST", "/v1/admin/allowlist",
                        json={"raw_number": "400 820 8888", "note": "银行客服热线，已函证核实"})
    assert allowed.status_code in (200, 201), allowed.text
    conflict = hub.admin("POST", "/v1/admin/allowlist",
                         json={"raw_number": fraud[1], "note": "已函证核实"})
    assert conflict.status_code in (200, 201), conflict.text
    shared = {"kind": "phone", "value": secrets.token_hex(32)}
    submit_case(hub, a, [shared, {"kind": "id_number", "value": secrets.token_hex(32)},
                         {"kind": "complaint_text", "value": secrets.token_hex(8)}], "c-1")
    submit_case(hub, b, [shared, {"kind": "email", "value": secrets.token_hex(32)}], "c-2")
    hub.member(*a, "POST", "/v1/reader-tokens", json={"label": "screener-01"})
    build(hub)
    return {"members": (a, b, c), "fraud": fraud}
