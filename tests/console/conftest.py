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

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.auth.admin_auth import create_admin
from hub.db import get_db
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.console.support import translator

CHROMIUM = Path("/usr/bin/chromium")
CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Browser locales: Playwright sends them as Accept-Language.
LANGUAGES = ("zh-CN", "en-US")


def _unavailable(message: str) -> None:
    if os.environ.get("LIANFANG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (LIANFANG_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def _has_cjk_font() -> bool:
    return any(CJK_FONT_DIR.glob("NotoSansCJK*")) or any(CJK_FONT_DIR.glob("NotoSerifCJK*"))


def _apt_install(packages: list[str]) -> None:
    """`apt-get update` then install, as root; retried while another apt holds the lock."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _unavailable(f"{' '.join(packages)} missing and we cannot apt-get install (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        for attempt in range(20):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode == 0 or "lock" not in done.stderr.lower():
                break
            time.sleep(3 + attempt)
        if done.returncode != 0:
            _unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")


def ensure_chromium() -> Path:
    """The Chromium binary and a CJK font, installing Debian's packages when missing."""
    missing = [] if CHROMIUM.exists() else ["chromium"]
    if not _has_cjk_font():
        missing.append("fonts-noto-cjk")
    if missing:
        _apt_install(missing)
    if not CHROMIUM.exists():
        _unavailable(f"apt-get install chromium did not provide {CHROMIUM}")
    if not _has_cjk_font():
        _unavailable(f"apt-get install fonts-noto-cjk did not provide {CJK_FONT_DIR}")
    return CHROMIUM


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
        _unavailable(f"the playwright package is not installed: {exc}")
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
