"""Attack: a local user on the hub host reads the hub's data because of its file modes.

The review found `var/` at 0755 and `hub.sqlite3` and the feed state at 0644:
any account on the machine could copy the database (who reported which HMAC)
and the feed state (the full listed sets). Now everything the hub creates is
0700/0600 whatever the umask -- these tests run the real `lianfang-hub` with
umask 000, the most permissive there is -- and `serve` and `/readyz` say when
an operator's paths are wider.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import requests

from hub.db import sqlite_path
from hub.filemodes import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from tests.helpers.hubproc import REPO, HubProcess, cli_args, hub_env


def _run_with_umask_000(data_dir: Path, db_url: str, *command: str) -> None:
    subprocess.run(
        cli_args(data_dir, db_url, *command), env=hub_env(), cwd=REPO, check=True,
        capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0),  # noqa: PLW1509
    )


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_everything_created_under_umask_000_is_owner_only(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "var"
    _run_with_umask_000(data, db_url, "init")
    _run_with_umask_000(data, db_url, "build-feeds")
    kinds = {"manifest": 0, "state": 0, "key": 0}
    for name, mode in _modes(data).items():
        wanted = PRIVATE_DIR_MODE if (data / name).is_dir() else PRIVATE_FILE_MODE
        assert mode == wanted, f"{name} is {mode:04o}, expected {wanted:04o}"
        kinds["manifest"] += name.endswith("manifest.json")
        kinds["state"] += "/.state/entries-" in name
        kinds["key"] += name.startswith("keys/")
    assert kinds["manifest"] and kinds["state"] and kinds["key"] >= 4  # the walk saw them
    database = sqlite_path(db_url)  # the fixture's SQLite file lives beside the data dir
    if database is not None:
        assert stat.S_IMODE(database.stat().st_mode) == PRIVATE_FILE_MODE


def test_sqlite_wal_files_created_while_serving_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "var"
    url = f"sqlite:///{data / 'hub.sqlite3'}"
    _run_with_umask_000(data, url, "init")
    hub = HubProcess(data, url, tmp_path / "log")
    try:
        assert requests.get(hub.url + "/readyz", timeout=10).status_code == 200
        companions = [p for p in data.iterdir() if p.name.startswith("hub.sqlite3")]
        assert len(companions) >= 2  # the database and its -wal at least
        for path in companions:
            assert stat.S_IMODE(path.stat().st_mode) == PRIVATE_FILE_MODE, path.name
    finally:
        hub.kill()


def test_serve_and_readyz_warn_about_paths_wider_than_owner_only(
    db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    _run_with_umask_000(data, db_url, "init")
    os.chmod(data, 0o755)  # an operator's `chmod -R a+rX var`, say
    state_files = list((data / "keys").glob("*.pem"))
    os.chmod(state_files[0], 0o644)
    log = tmp_path / "log"
    hub = HubProcess(data, db_url, log)
    try:
        answer = requests.get(hub.url + "/readyz", timeout=10)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "ready"
        assert body["warnings"]["file_modes"].startswith("2 data paths")
        assert str(tmp_path) not in answer.text  # a public endpoint echoes no path
    finally:
        hub.kill()
    printed = log.read_text("utf-8")
    assert f"warning: {data} is mode 0755, expected 0700" in printed
    assert f"warning: {state_files[0]} is mode 0644, expected 0600" in printed


def test_readyz_has_no_warning_for_an_owner_only_data_dir(live_hub: object) -> None:
    hub = live_hub
    body = hub.http.get(hub.url + "/readyz").json()  # type: ignore[attr-defined]
    assert body["warnings"] == {}
