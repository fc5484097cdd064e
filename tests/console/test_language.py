"""The console's language without a browser: Chinese by default, English on request,
the switch remembered, display names instead of codes, dates in the locale's format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask

from hub.console.i18n import LANG_COOKIE
from hub.console.labels import LABELS, label, labels
from tests.console.test_console_http import signed_in

LANG = re.compile(r'<html lang="([^"]+)">')


def html_lang(text: str) -> str:
    found = LANG.search(text)
    assert found, text[:200]
    return found.group(1)


def test_chinese_is_the_default(app: Flask) -> None:
    page = app.test_client().get("/console/login")
    assert page.status_code == 200
    assert html_lang(page.text) == "zh-CN"
    assert "登录" in page.text and "用户名" in page.text and "Sign in" not in page.text


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.5", "en"),
        ("en", "en"),
        ("zh-TW;q=0.9,fr;q=0.8", "zh-CN"),
        ("fr-FR,de;q=0.5", "zh-CN"),  # neither offered: Chinese, the users' language
        ("de,en;q=0.7,zh;q=0.6", "en"),  # English ranked above Chinese
        ("de,zh;q=0.7,en;q=0.6", "zh-CN"),
    ],
)
def test_accept_language_picks_the_better_of_chinese_and_english(
    app: Flask, accept: str, expected: str
) -> None:
    page = app.test_client().get("/console/login", headers={"Accept-Language": accept})
    assert html_lang(page.text) == expected
    assert ("Sign in" in page.text) is (expected == "en")


def test_the_switch_is_remembered_and_beats_the_browser(app: Flask) -> None:
    client = app.test_client()
    zh_browser = {"Accept-Language": "zh-CN,zh;q=0.9"}
    page = client.get("/console/login", headers=zh_browser)
    switch = re.search(r'<a class="lang-switch" id="lang-switch" href="([^"]+)"', page.text)
    assert switch and "lang=en" in switch.group(1)
    switched = client.get(switch.group(1), headers=zh_browser)
    assert html_lang(switched.text) == "en"
    cookie = client.get_cookie(LANG_COOKIE, path="/console")
    assert cookie is not None and cookie.value == "en" and cookie.http_only
    assert html_lang(client.get("/console/login", headers=zh_browser).text) == "en"
    back = client.get("/console/login?lang=zh_CN", headers={"Accept-Language": "en"})
    assert html_lang(back.text) == "zh-CN"
    assert html_lang(client.get("/console/login", headers={"Accept-Language": "en"}).text) \
        == "zh-CN"


def test_a_junk_language_is_ignored(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/console/login?lang=<script>", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and html_lang(page.text) == "en"
    assert client.get_cookie(LANG_COOKIE, path="/console") is None
    client.set_cookie(LANG_COOKIE, "xx-evil", path="/console")
    assert html_lang(client.get("/console/login").text) == "zh-CN"


def test_flash_messages_and_errors_are_translated(app: Flask) -> None:
    client, _token = signed_in(app)
    out = client.post("/console/logout", data={"csrf_token": _token}, follow_redirects=True)
    assert "已退出登录" in out.text
    client, _token = signed_in(app)
    missing = client.get("/console/members/mbr_0000000000000000")
    assert missing.status_code == 404 and "未找到" in missing.text
    forged = client.post("/console/applications/mbr_0000000000000000/approve", data={})
    assert forged.status_code == 400 and "表单已过期或被伪造" in forged.text
    english = client.get("/console/members/mbr_0000000000000000?lang=en")
    assert "404 · Not found" in english.text


def test_api_errors_stay_english_json(app: Flask) -> None:
    response = app.test_client().get("/v1/admin/members", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 401
    message = response.json["error"]["message"]
    assert "Authorization" in message and not re.search(r"[\u4e00-\u9fff]", message)


def test_every_vocabulary_value_has_a_display_name_in_both_languages(app: Flask) -> None:
    from schemas import enums

    vocabularies = {
        "category": enums.Category, "member_kind": enums.MemberKind,
        "member_state": enums.MemberState, "tier": enums.Tier,
        "dispute_state": enums.DisputeState, "report_state": enums.ReportState,
        "feed": enums.Feed, "indicator_kind": enums.IndicatorKind,
    }
    for name, enum in vocabularies.items():
        assert {e.value for e in enum} <= set(LABELS[name]), name
    with app.test_request_context("/console/login"):
        assert label("debt_collection_abuse", "category") == "催收滥用"
        assert label("pending", "member_state") == "待审批"
        assert labels(["fraud", "spoofing"], "category") == "欺诈、冒充号码"
        assert label("something_new", "category") == "something_new"
    with app.test_request_context("/console/login?lang=en"):
        assert label("debt_collection_abuse", "category") == "Debt collection abuse"
        assert labels(["fraud", "spoofing"], "category") == "Fraud, Spoofed number"


def test_dates_follow_the_locale(app: Flask) -> None:
    from hub.console.i18n import when

    moment = datetime(2026, 11, 2, 9, 5, 7, tzinfo=UTC)
    with app.test_request_context("/console/login"):
        assert when(moment) == "2026年11月2日 09:05:07"
        assert when("2026-11-02T09:05:07Z") == "2026年11月2日 09:05:07"
        assert when(None) == "—"
    with app.test_request_context("/console/login?lang=en"):
        assert when(moment) == "Nov 2, 2026, 9:05:07\u202fAM"


def test_an_oversized_form_is_refused_in_the_readers_language(app: Flask) -> None:
    client, token = signed_in(app)
    too_big = {"csrf_token": token, "raw_number": "13800138000", "note": "x" * (9 * 1024 * 1024)}
    refused = client.post("/console/allowlist/add", data=too_big)
    assert refused.status_code == 413 and refused.mimetype == "text/html"
    assert "请求内容过大" in refused.text and "13800138000" not in refused.text
    english = client.post("/console/allowlist/add?lang=en", data=too_big)
    assert english.status_code == 413 and "Request too large" in english.text


def test_form_problems_name_the_field_in_the_readers_language(app: Flask) -> None:
    client, token = signed_in(app)
    url = "/console/applications/mbr_0000000000000000/reject"
    refused = client.post(url, data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 422
    assert '<li data-field="reason"><strong>原因</strong>: 必填项。</li>' in refused.text
    english = client.post(url + "?lang=en", data={"csrf_token": token, "reason": "  "})
    assert '<li data-field="reason"><strong>Reason</strong>: Required.</li>' in english.text
