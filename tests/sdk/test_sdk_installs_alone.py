"""`pip install lianfang` (no extras) in a fresh virtualenv: the SDK syncs and screens alone.

The wheel is built from this tree and installed into an empty virtualenv with
pip reaching PyPI; a script run by that venv's interpreter syncs the signed
feeds of a live hub (started here from the development venv) and screens a
number. None of the hub's packages may be importable there, and the footprint
added to site-packages is printed so docs/SDK_INSTALL.md can quote it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Any

import pytest

from client_sdk.member_client import MemberClient
from hub.feeds.builder import build_feeds, keystore_for
from hub.launcher import HUB_MODULES

REPO = Path(__file__).resolve().parents[2]
FRAUD = "13812345678"

SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    from client_sdk.feed_client import FeedClient
    from client_sdk.screener import CallScreener

    url, root_key, state, token, hub_modules = sys.argv[1:6]
    feeds = FeedClient(url, root_key, state, token=token)
    ok = all(result.ok for result in feeds.sync().values())
    screener = CallScreener(feeds)
    print(json.dumps({
        "synced": ok,
        "fraud": screener.check(sys.argv[6]).action,
        "other": screener.check("13500009999").action,
        "hub_importable": [m for m in hub_modules.split(",") if importlib.util.find_spec(m)],
    }))
    """
)


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _site_packages(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
"""Without the worktree on the path, the venv sees only what pip installed in it."""


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A fresh virtualenv with the wheel installed without extras, and the MB it added."""
    root = tmp_path_factory.mktemp("sdk-venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"),
         str(REPO)],
        check=True, cwd=root,
    )
    wheel = next((root / "dist").glob("lianfang-*.whl"))
    env = root / "venv"
    venv.create(env, with_pip=True)
    before = _du(_site_packages(env))
    installed = subprocess.run(
        [str(env / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, cwd=root, env=CLEAN_ENV,
    )
    if installed.returncode and "Could not find a version" in installed.stderr:
        pytest.skip("PyPI unreachable: " + installed.stderr.splitlines()[-1])
    assert installed.returncode == 0, installed.stderr
    return env, (_du(_site_packages(env)) - before) / 1e6


def test_wheel_without_extras_syncs_and_screens(
    live_hub: Any, sdk_venv: tuple[Path, float], tmp_path: Path
) -> None:
    env, added_mb = sdk_venv
    python = env / "bin" / "python"

    a, b = (MemberClient(live_hub.url, key, mid) for mid, key in
            (live_hub.new_member(), live_hub.new_member()))
    for bank in (a, b):
        assert bank.report("phone", [FRAUD], "fraud", 95).accepted == 1
    build_feeds(live_hub.app)
    with live_hub.app.app_context():
        root_key = keystore_for(live_hub.app).root_public_b64()

    run = subprocess.run(
        [str(python), "-c", SCRIPT, live_hub.url, root_key, str(tmp_path / "state"),
         a.mint_reader_token(), ",".join(HUB_MODULES), FRAUD],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env=CLEAN_ENV,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer == {"synced": True, "fraud": "block", "other": "allow", "hub_importable": []}

    hub_cli = subprocess.run([str(env / "bin" / "lianfang-hub"), "serve"], capture_output=True,
                             text=True, cwd=tmp_path, env=CLEAN_ENV)
    assert hub_cli.returncode == 2
    assert hub_cli.stderr.count("\n") == 1 and "pip install 'lianfang[hub]'" in hub_cli.stderr
    print(f"\nSDK footprint: {added_mb:.1f} MB ({added_mb * 1e6 / 2**20:.1f} MiB) added")
    # numpy (73 MB with its bundled OpenBLAS) is most of it. Issue 19's target is 100 MB;
    # the figure is reported in docs/SDK_INSTALL.md (100.3 MB on 2026-12-02: missed by
    # 0.3 MB, the hub's own code that the one wheel carries grew). This guard catches a
    # dependency slipping into the base install, which costs megabytes, not kilobytes.
    assert added_mb <= 102, f"the SDK adds {added_mb:.1f} MB: a dependency joined the base?"
