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

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hub.auth.admin_auth import create_admin
from hub.db import get_db
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

CHROMIUM = Path("/usr/bin/chromium")
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


def _unavailable(message: str) -> None:
    if os.environ.get("LIANFANG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (LIANFANG_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def ensure_chromium() -> Path:
    """The Chromium binary, installing Debian's package when missing and root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _unavailable(f"{CHROMIUM} is missing and we cannot apt-get install chromium (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            _unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")
    if not CHROMIUM.exists():
        _unavailable(f"apt-get install chromium did not provide {CHROMIUM}")
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


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
