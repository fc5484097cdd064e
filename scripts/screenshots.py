#!/usr/bin/env python3
"""Regenerate the console screenshots in docs/screenshots/ (docs/OPERATIONS.md, admin console).

Runs the browser tests that seed a live hub with sample data and photograph
each console page (desktop 1280 px wide, plus the dashboard at 390 px), then
shrinks the PNGs to a 256-colour palette when Pillow is available so the repo
stays small. Usage: `.venv/bin/python scripts/screenshots.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
TESTS = [
    "tests/console/test_console.py::test_write_screenshots",
    "tests/console/test_console.py::test_no_page_scrolls_sideways_on_a_phone",
]


def shrink(path: Path) -> None:
    """Palette-quantise a screenshot (UI colours survive; file size drops ~3x)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LIANFANG_SCREENSHOTS_DIR": str(OUT), "LIANFANG_REQUIRE_BROWSER": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=ROOT, env=env, check=False,
    )
    if done.returncode != 0:
        return done.returncode
    for path in sorted(OUT.glob("*.png")):
        shrink(path)
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
