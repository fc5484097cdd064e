"""`/v1/docs` in a real browser: the vendored Swagger UI renders every operation and the
page requests nothing outside the hub (no CDN, no online validator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from console.conftest import CHROMIUM_ARGS, ensure_chromium

from hub.api.openapi import OPERATIONS
from tests.hub.hardening_support import serve_hub

pytestmark = pytest.mark.browser


def test_docs_render_offline(tmp_path: Path) -> None:
    executable = ensure_chromium()
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    db_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    with serve_hub(db_url, tmp_path / "data", login=False) as hub, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)

            def record(route, request) -> None:  # noqa: ANN001 - playwright objects
                requested.append(request.url)
                if request.url.startswith(hub.url):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", record)
            page.goto(hub.url + "/v1/docs")
            page.wait_for_selector(".opblock")
            page.wait_for_function(
                f"document.querySelectorAll('.opblock').length >= {len(OPERATIONS)}"
            )
            blocks = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert blocks == len(OPERATIONS)
    assert "Lianfang" in title
    outside = [url for url in requested if not url.startswith((hub.url, "data:"))]
    assert outside == []
    assert hub.url + "/v1/openapi.json" in requested
