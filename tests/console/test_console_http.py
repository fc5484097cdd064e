"""Console behaviour that needs no browser: bad form input is a 4xx HTML page (never a 500
or the /v1 JSON), cookies are Secure over TLS, headers forbid scripts and framing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.db import get_db
from tests.console.support import TOKEN, signed_in
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
def client(app: Flask) -> Iterator[tuple[FlaskClient, str]]:
    yield signed_in(app)


BAD_POSTS: list[tuple[str, dict[str, Any]]] = [
    ("/console/applications/mbr_0000000000000000/approve", {}),
    ("/console/applications/" + "x" * 500 + "/reject", {"reason": "r"}),
    ("/console/applications/mbr_0000000000000000/reject", {"reason": "   "}),
    ("/console/applications/mbr_0000000000000000/reject", {"reason": "a\x00b"}),
    ("/console/members/mbr_0000000000000000/suspend", {"reason": "x", "confirm": "yes"}),
    ("/console/members/mbr_0000000000000000/frobnicate", {}),
    ("/console/members/mbr_0000000000000000/revoke", {"reason": "x" * 5000, "confirm": "yes"}),
    ("/console/members/mbr_0000000000000000/reader-tokens/rdt_x/revoke", {}),
    ("/console/disputes/999/resolve", {"resolution": "delist", "reason": "checked"}),
    ("/console/disputes/1/resolve", {"resolution": "burn", "reason": "checked"}),
    ("/console/disputes/1/resolve", {"resolution": "uphold"}),
    ("/console/disputes/99999999999999999999999/resolve", {"resolution": "uphold"}),
    ("/console/allowlist/add", {}),
    ("/console/allowlist/add", {"raw_number": "not a number"}),
    ("/console/allowlist/add", {"raw_number": "13800138000", "region": "ZZ"}),
    ("/console/allowlist/add", {"raw_number": "13800138000", "region": "CHN"}),
    ("/console/allowlist/add", {"raw_number": "1" * 500}),
    ("/console/allowlist/add", {"raw_number": "13800138000", "note": "n" * 600}),
    ("/console/allowlist/remove", {"kind": "phone", "value": "13800138000"}),
    ("/console/allowlist/remove", {"kind": "phone", "value": "a" * 64}),
    ("/console/allowlist/remove", {"kind": "nope", "value": ""}),
]


@pytest.mark.parametrize(("path", "form"), BAD_POSTS)
def test_bad_form_input_is_a_4xx_html_page(
    client: tuple[FlaskClient, str], path: str, form: dict[str, Any]
) -> None:
    http, token = client
    response = http.post(path, data={**form, "csrf_token": token})
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert response.mimetype == "text/html"
    assert "<h1>" in response.text
    assert "13800138000" not in response.text  # a raw number is never echoed back


@pytest.mark.parametrize(
    "query",
    ["page=-1", "page=abc", "page=99999999999999", "state=bogus", "actor=%25&action=_",
     "subject=" + "s" * 5000],
)
def test_junk_query_strings_still_render(client: tuple[FlaskClient, str], query: str) -> None:
    http, _ = client
    for path in ("/console/members", "/console/disputes", "/console/audit",
                 "/console/allowlist", "/console/groups", "/console/applications"):
        response = http.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query, response.status_code)


def test_unknown_pages_are_html_not_json(client: tuple[FlaskClient, str]) -> None:
    http, _ = client
    for path in ("/console/members/mbr_0000000000000000", "/console/groups/g-nothing",
                 "/console/groups/" + "g" * 300):
        response = http.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html"


def test_cookies_are_secure_over_tls_and_pages_forbid_scripts(app: Flask) -> None:
    http, _ = signed_in(app, base_url="https://localhost")
    cookie = http.get_cookie("lianfang_console", domain="localhost", path="/console")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert cookie.same_site == "Lax"
    page = http.get("/console/dashboard", base_url="https://localhost")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text


def test_unsigned_visitors_are_sent_to_sign_in_and_posts_do_nothing(app: Flask) -> None:
    http = app.test_client()
    page = http.get("/console/audit?actor=x")
    assert page.status_code == 302 and "/console/login" in page.location
    post = http.post("/console/allowlist/add", data={"raw_number": "13800138000"})
    assert post.status_code == 302 and "/console/login" in post.location
    assert http.get("/v1/admin/allowlist").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/v1/admin",
                                    "/console/\\evil"])
def test_sign_in_never_redirects_off_the_console(app: Flask, target: str) -> None:
    http = app.test_client()
    token = TOKEN.search(http.get("/console/login").text).group(1)
    done = http.post("/console/login", data={
        "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": token,
        "next": target,
    })
    assert done.status_code == 303 and done.location == "/console/dashboard"


def test_cookies_are_secure_behind_a_tls_proxy(tmp_path: Any) -> None:
    from tests.helpers.hub import make_hub_app

    proxied = make_hub_app(
        f"sqlite:///{tmp_path / 'proxied.sqlite3'}", tmp_path / "proxied",
        public_url="https://hub.example.cn",
    )
    try:
        http = proxied.test_client()
        http.get("/console/login")  # plain HTTP from the proxy
        cookie = http.get_cookie("lianfang_console_pre", domain="localhost", path="/console")
        assert cookie is not None and cookie.secure
    finally:
        get_db(proxied).dispose()


def test_console_sign_in_shares_the_admin_login_address_limit(tmp_path: Any) -> None:
    from tests.helpers.hub import make_hub_app

    limited = make_hub_app(
        f"sqlite:///{tmp_path / 'limited.sqlite3'}", tmp_path / "limited",
        ratelimit_admin_login="3/minute",
    )
    try:
        http = limited.test_client()
        token = TOKEN.search(http.get("/console/login").text).group(1)
        form = {"username": "nobody", "password": "wrong", "csrf_token": token}
        statuses = [http.post("/console/login", data=form).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        refused = http.post("/console/login", data=form)
        assert refused.mimetype == "text/html" and "Retry-After" in refused.headers
    finally:
        get_db(limited).dispose()
