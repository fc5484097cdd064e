"""`lianfang-hub` commands against both databases."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import create_app
from hub.cli import main
from hub.db import get_db
from schemas.envelope import public_key_raw
from schemas.keys import b64encode


def _run(db_url: str, data_dir: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(
        main, ["--database-url", db_url, "--data-dir", str(data_dir), *args], input=stdin
    )


def test_init_create_admin_and_member_lifecycle(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = _run(db_url, data_dir, "init")
    assert first.exit_code == 0, first.output
    password = re.search(r"created admin 'admin' with password: (\S+)", first.output).group(1)
    assert "created consortium key epoch 1" in first.output
    assert (data_dir / "keys" / "master.key").exists()

    again = _run(db_url, data_dir, "init", "--if-needed")
    assert again.exit_code == 0 and "password" not in again.output

    created = _run(
        db_url, data_dir, "create-admin", "alice", "--password-stdin", stdin="a long enough pw\n"
    )
    assert created.exit_code == 0, created.output
    duplicate = _run(db_url, data_dir, "create-admin", "alice")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = _run(db_url, data_dir, "create-admin", "bob", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1

    app = create_app({"database_url": db_url, "data_dir": data_dir, "scheduler": False})
    try:
        client = app.test_client()
        for username, pw in (("admin", password), ("alice", "a long enough pw")):
            login = client.post("/v1/admin/login", json={"username": username, "password": pw})
            assert login.status_code == 200, (username, login.get_json())
        key = Ed25519PrivateKey.generate()
        applied = client.post(
            "/v1/applications",
            json={
                "name": "CLI Bank",
                "kind": "bank",
                "registration_no": "91310000",
                "contact_email": "ops@cli-bank.example",
                "public_key": b64encode(public_key_raw(key.public_key())),
            },
        )
        member_id = applied.get_json()["id"]

        listed = _run(db_url, data_dir, "members", "list", "--state", "pending")
        assert listed.exit_code == 0 and member_id in listed.output

        no_reason = _run(db_url, data_dir, "members", "reject", member_id)
        assert no_reason.exit_code == 2
        approved = _run(db_url, data_dir, "members", "approve", member_id)
        assert approved.exit_code == 0 and f"{member_id} is now approved" in approved.output
        twice = _run(db_url, data_dir, "members", "approve", member_id)
        assert twice.exit_code == 1 and "is approved" in twice.output
        suspended = _run(db_url, data_dir, "members", "suspend", member_id, "--reason", "audit")
        assert suspended.exit_code == 0 and "suspended" in suspended.output

        verified = _run(db_url, data_dir, "verify-audit")
        assert verified.exit_code == 0 and "OK" in verified.output
    finally:
        get_db(app).dispose()


def test_commands_fail_with_one_line_on_uninitialised_hub(tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    for args in (
        ["verify-audit"],
        ["members", "list"],
        ["members", "approve", "mbr_0123456789abcdef"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "hub.cli", "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert proc.returncode == 1, proc
        lines = proc.stderr.strip().splitlines()
        assert lines == ["Error: the database is not initialised; run `lianfang-hub init`"]


def test_unreachable_database_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--database-url",
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "--data-dir",
            str(tmp_path),
            "verify-audit",
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot open the database")
    assert len(result.output.strip().splitlines()) == 1
