"""`make demo` end to end: the script drives a real hub subprocess and must tell the story."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_script_runs_and_screens_as_described() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert out.count("is now approved") == 3
    assert "phone-block: v" in out and "FAILED" not in out
    assert "action=review, 2 members" in out
    verdicts = [line.split("->", 1)[1].split()[0] for line in out.splitlines() if "->" in line]
    assert verdicts == ["block", "block", "warn", "allow", "allow", "allow", "silence", "allow"]
    assert "password" not in out
