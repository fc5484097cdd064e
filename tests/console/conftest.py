"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against `live_hub`.

Chromium comes from the OS package (`apt-get install -y chromium`, done here
when it is missing and we are root). `playwright install` is never run: it
downloads a browser, which this project does not allow. Without a browser the
tests skip with a message — unless `LIANFANG_REQUIRE_BROWSER=1` (CI), where
that is a failure.

Tests that take `page` run twice: in a Chinese browser (`zh-CN`, the console's
default) and an English one (`en-US`); `t(msgid)` is the console's text in that
language, so assertions follow the page. The CJK font (Debian's
`fonts-noto-cjk`) is installed the same way as Chromium, so screenshots show
characters, not boxes.

The console is database-agnostic (the services are tested on SQLite and
PostgreSQL elsewhere), so these tests run on SQLite only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.auth.admin_auth import create_admin
from hub.db import get_db
from tests.console.support import translator
from tests.helpers.browser import CHROMIUM_ARGS, DESKTOP, LANGUAGES, ensure_chromium, unavailable
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only for the browser tests (overrides the sqlite/postgresql parametrisation)."""
    yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"


@pytest.fixture
def app(hub_app: Flask) -> Flask:
    """The in-process hub with the console admin created (for test-client tests)."""
    with hub_app.app_context(), get_db(hub_app).new_session() as session:
        create_admin(session, ADMIN_USERNAME, ADMIN_PASSWORD, actor="test")
        session.commit()
    return hub_app


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


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    """The browser's language for this run of the test."""
    return request.param


@pytest.fixture
def t(lang: str) -> Callable[..., str]:
    """The console's text for an English msgid, in the page's language."""
    return translator(lang)


@pytest.fixture
def page(browser: Any, lang: str) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale=lang)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
