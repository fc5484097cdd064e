"""`/v1/docs` in a real browser: the vendored Swagger UI renders every operation and the
page requests nothing outside the hub (no CDN, no online validator).

Playwright runs in a child process: the console tests keep a session-wide sync
Playwright open in the same xdist worker, and a second one cannot start there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.api.openapi import OPERATIONS
from tests.helpers.browser import CHROMIUM_ARGS, ensure_chromium
from tests.helpers.hub import serve_hub

pytestmark = pytest.mark.browser

_SCRIPT = """
import json, sys
from playwright.sync_api import sync_playwright
executable, args, url = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
expected = int(sys.argv[4])
requested = []
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=executable, args=args)
    page = browser.new_page()
    page.set_default_timeout(90_000)
    def record(route, request):
        requested.append(request.url)
        route.continue_() if request.url.startswith(url) else route.abort()
    page.route("**/*", record)
    page.goto(url + "/v1/docs")
    # A locator wait, not wait_for_function: the page's CSP forbids eval.
    page.locator(".opblock").nth(expected - 1).wait_for(state="attached")
    result = {"blocks": page.locator(".opblock").count(),
              "title": page.locator(".info .title").inner_text(), "requested": requested}
    browser.close()
print(json.dumps(result))
"""


def test_docs_render_offline(tmp_path: Path) -> None:
    executable = ensure_chromium()
    db_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    with serve_hub(db_url, tmp_path / "data", login=False) as hub:
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(executable), json.dumps(CHROMIUM_ARGS),
             hub.url, str(len(OPERATIONS))],
            capture_output=True, text=True, timeout=180, check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["blocks"] == len(OPERATIONS)
    assert "Lianfang" in result["title"]
    requested = result["requested"]
    assert [url for url in requested if not url.startswith((hub.url, "data:"))] == []
    assert hub.url + "/v1/openapi.json" in requested
