"""Debian's Chromium for the browser tests: where it is, its flags, and how it is installed.

Plain helpers, not fixtures: `tests/console/conftest.py` builds the `browser`
fixture from them, and other browser tests import them from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


def unavailable(message: str) -> None:
    if os.environ.get("LIANFANG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (LIANFANG_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def ensure_chromium() -> Path:
    """The Chromium binary, installing Debian's package when missing and root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"{CHROMIUM} is missing and we cannot apt-get install chromium (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            unavailable(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")
    if not CHROMIUM.exists():
        unavailable(f"apt-get install chromium did not provide {CHROMIUM}")
    return CHROMIUM
