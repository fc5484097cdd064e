"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against `live_hub`.

Chromium comes from the OS package (`apt-get install -y chromium`, done here
when it is missing and we are root). `playwright install` is never run: it
downloads a browser, which this project does not allow. Without a browser the
tests skip with a message — unless `LIANFANG_REQUIRE_BROWSER=1` (CI), where
that is a failure.

The console is database-agnostic (the services are tested on SQLite and
PostgreSQL elsewhere), so these tests run on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import CHROMIUM_ARGS, DESKTOP, ensure_chromium, unavailable


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only for the browser tests (overrides the sqlite/postgresql parametrisation)."""
    yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = ensure_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"the playwright package is not installed: {exc}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
