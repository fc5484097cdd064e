"""Debian's Chromium for the browser tests: where it is, its flags, and how it is installed.

Plain helpers, not fixtures: `tests/console/conftest.py` builds the `browser`
fixture from them, and other browser tests import them from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

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


def unavailable(message: str) -> None:
    if os.environ.get("LIANFANG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (LIANFANG_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def _has_cjk_font() -> bool:
    return any(CJK_FONT_DIR.glob("NotoSansCJK*")) or any(CJK_FONT_DIR.glob("NotoSerifCJK*"))


def _apt_install(packages: list[str]) -> None:
    """`apt-get update` then install, as root; retried while another apt holds the lock."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"{' '.join(packages)} missing and we cannot apt-get install (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        for attempt in range(20):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode == 0 or "lock" not in done.stderr.lower():
                break
            time.sleep(3 + attempt)
        if done.returncode != 0:
            unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")


def ensure_chromium() -> Path:
    """The Chromium binary and a CJK font, installing Debian's packages when missing.

    The font matters as much as the browser: without it the Chinese console's
    screenshots show boxes instead of characters.
    """
    missing = [] if CHROMIUM.exists() else ["chromium"]
    if not _has_cjk_font():
        missing.append("fonts-noto-cjk")
    if missing:
        _apt_install(missing)
    if not CHROMIUM.exists():
        unavailable(f"apt-get install chromium did not provide {CHROMIUM}")
    if not _has_cjk_font():
        unavailable(f"apt-get install fonts-noto-cjk did not provide {CJK_FONT_DIR}")
    return CHROMIUM
