"""`lianfang` CLI through click's CliRunner against the real hub over HTTP."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    PublicFormat,
)

from client_sdk.cli import load_private_key
from client_sdk.member_client import MemberClient
from hub.feeds.builder import build_feeds
from schemas import keyfile
from schemas.keys import fingerprint
from tests.helpers.cli import run

BLOCKED = ["13800138000", "+86 139 0013 9000"]


def new_member_via_cli(live_hub: Any, tmp_path: Path, name: str) -> tuple[str, Path]:
    key = tmp_path / f"{name}.pem"
    assert run("keygen", str(key)).exit_code == 0
    result = run(
        "apply", "--hub", live_hub.url, "--key", str(key), "--name", name, "--kind", "bank",
        "--registration-no", f"REG-{name}", "--email", f"sec@{name}.example.cn",
    )
    assert result.exit_code == 0, result.output
    member_id = result.stdout.strip()
    approved = live_hub.admin("POST", f"/v1/admin/members/{member_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    return member_id, key


def test_keygen_encrypt_writes_a_scrypt_key_file_the_other_commands_read(
    tmp_path: Path,
) -> None:
    """A member key copied off a laptop costs the thief 128 MiB of scrypt per guess."""
    path = tmp_path / "member.pem"
    env = {"LIANFANG_MEMBER_KEY_PASSPHRASE": "correct horse battery staple"}
    assert run("keygen", str(path), "--encrypt", env=env).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyfile.key_file_header(path.read_bytes())["kdf"] == "scrypt"
    printed = run("fingerprint", str(path), env=env)
    assert printed.exit_code == 0 and printed.stdout.strip().count(":") >= 1
    missing = run("fingerprint", str(path), env={"LIANFANG_MEMBER_KEY_PASSPHRASE": ""})
    assert missing.exit_code == 2 and "passphrase" in missing.stderr
    wrong = run("fingerprint", str(path), env={"LIANFANG_MEMBER_KEY_PASSPHRASE": "nope"})
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.stderr
    # a member key encrypted the old PBKDF2 way (2,048 iterations) still works
    old = tmp_path / "old.pem"
    key = keyfile.load_private_key(
        path.read_bytes(), env["LIANFANG_MEMBER_KEY_PASSPHRASE"].encode())
    old.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                      BestAvailableEncryption(b"correct horse battery staple")))
    assert run("fingerprint", str(old), env=env).stdout == printed.stdout


def test_keygen_writes_a_private_pem_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "member.pem"
    result = run("keygen", str(path))
    assert result.exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    key = load_private_key(path)
    assert MemberClient("http://x", key).public_key_b64() in result.stdout
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert f"fingerprint: {fingerprint(raw)}" in result.stdout
    assert run("fingerprint", str(path)).stdout.strip() == fingerprint(raw)
    as_json = json.loads(run("fingerprint", str(path), "--output", "json").stdout)
    assert as_json["fingerprint"] == fingerprint(raw)
    assert run("fingerprint", str(tmp_path / "missing.pem")).exit_code != 0
    before = path.read_bytes()
    again = run("keygen", str(path))
    assert again.exit_code == 2 and "exists" in again.stderr
    assert path.read_bytes() == before
    assert run("keygen", str(path), "--force").exit_code == 0
    assert path.read_bytes() != before


def test_report_sync_check_status(live_hub: Any, root_key: str, tmp_path: Path) -> None:
    a_id, a_key = new_member_via_cli(live_hub, tmp_path, "bank-a")
    b_id, b_key = new_member_via_cli(live_hub, tmp_path, "bank-b")
    csv_a = tmp_path / "a.csv"
    csv_a.write_text("name,number\nfake lender,13800138000\nbroken,not-a-number\n\n"
                     "impersonator,+86 139 0013 9000\n", encoding="utf-8")
    result = run("report", str(csv_a), "--hub", live_hub.url, "--key", str(a_key),
                 "--member-id", a_id, "--category", "fraud", "--confidence", "95")
    assert result.exit_code == 1  # one row was rejected, the others accepted
    assert "read 3 rows: accepted 2, rejected 1" in result.stdout
    assert "line 3:" in result.stderr and "not-a-number" not in result.stderr
    csv_b = tmp_path / "b.csv"  # no header: the first column is read
    csv_b.write_text("13800138000,x\n13900139000,y\n", encoding="utf-8")
    env = {"LIANFANG_HUB_URL": live_hub.url, "LIANFANG_MEMBER_ID": b_id}
    result = run("report", str(csv_b), "--key", str(b_key), "--category", "fraud",
                 "--confidence", "95", "--batch-size", "1", env=env)
    assert result.exit_code == 0, result.output
    assert "read 2 rows: accepted 2, rejected 0" in result.stdout

    build_feeds(live_hub.app)
    minted = run("mint-token", "--hub", live_hub.url, "--key", str(a_key), "--member-id", a_id,
                 "--label", "screeners")
    assert minted.exit_code == 0, minted.output
    token = minted.stdout.strip()
    state = tmp_path / "state"
    env = {
        "LIANFANG_HUB_URL": live_hub.url,
        "LIANFANG_TOKEN": token,
        "LIANFANG_STATE_DIR": str(state),
        "LIANFANG_ROOT_KEY": root_key,
    }
    synced = run("sync", env=env)
    assert synced.exit_code == 0, synced.output
    assert "phone-block: version 1 (updated)" in synced.stdout

    for shown in BLOCKED:
        verdict = run("check", shown, env=env)
        assert verdict.exit_code == 0
        assert verdict.stdout.startswith("block  reasons=consortium_block"), verdict.stdout
    unknown = run("check", "13300133000", env=env)
    assert unknown.stdout.startswith("allow  reasons=no_match")
    assert "stale=no" in unknown.stdout
    contact = run("check", "13800138000", "--contact", "+8613800138000", env=env)
    assert contact.stdout.startswith("allow  reasons=contact")
    night = run("check", "13300133000", "--quiet-hours", "22:00-08:00",
                "--at", "2026-11-24T23:30:00+08:00", env=env)
    assert night.stdout.startswith("silence  reasons=quiet_hours")
    assert run("check", "garbage", env=env).stdout.startswith("allow  reasons=unparseable_number")

    shown_status = run("status", env=env)
    assert shown_status.exit_code == 0
    assert "phone-block: version=1" in shown_status.stdout


def test_check_before_any_sync_says_no_data(tmp_path: Path, root_key: str) -> None:
    result = run("check", "13800138000", "--state-dir", str(tmp_path / "s"),
                 "--root-key", root_key)
    assert result.exit_code == 0
    assert "no_data" in result.stdout and "stale=yes" in result.stdout


def test_errors_are_one_line_and_non_zero(live_hub: Any, tmp_path: Path, root_key: str) -> None:
    key = tmp_path / "k.pem"
    run("keygen", str(key))
    bad = run("apply", "--hub", live_hub.url, "--key", str(key), "--name", "X", "--kind", "bank",
              "--registration-no", "R", "--email", "not-an-email")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: hub refused (422 ") and bad.stderr.count("\n") == 1
    assert "contact_email: " in bad.stderr and "{" not in bad.stderr  # no raw dicts

    down = run("apply", "--hub", "http://127.0.0.1:9", "--key", str(key), "--name", "X",
               "--kind", "bank", "--registration-no", "R", "--email", "a@b.example.cn")
    assert down.exit_code == 2 and "unreachable" in down.stderr

    not_a_key = tmp_path / "nope.pem"
    not_a_key.write_text("hello")
    wrong = run("apply", "--hub", live_hub.url, "--key", str(not_a_key), "--name", "X",
                "--kind", "bank", "--registration-no", "R", "--email", "a@b.example.cn")
    assert wrong.exit_code == 2 and "not a PEM private key" in wrong.stderr

    missing = run("sync", "--hub", live_hub.url, "--state-dir", str(tmp_path / "s"),
                  "--root-key", root_key)
    assert missing.exit_code == 2 and "--token" in missing.stderr

    refused = run("sync", "--hub", live_hub.url, "--state-dir", str(tmp_path / "s"),
                  "--root-key", root_key, "--token", "wrong-token")
    assert refused.exit_code == 2 and "FAILED fetch" in refused.stderr  # every feed failed

    bad_root = run("check", "13800138000", "--state-dir", str(tmp_path / "s"),
                   "--root-key", "not-base64!")
    assert bad_root.exit_code == 2 and bad_root.stderr.startswith("Error:")
