"""The attack on the exports: do TAXII, the MISP feed or the CSV ever carry a number?

Two banks report real numbers through the SDK (which hashes them); everything the
exports produce must hold the keyed token a member can recompute, and no digit
run of any number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk.member_client import MemberClient
from hub import get_config
from hub.cli import main
from schemas.indicators import hash_indicator

NUMBERS = ("+8613800138000", "13912345678", "+86 139 8765 4321")
DIGIT_RUNS = ("13800138000", "13912345678", "13987654321", "8613800138000")


def _bank(hub: Any, name: str) -> MemberClient:
    client = MemberClient(hub.url, Ed25519PrivateKey.generate(), max_retries=2)
    client.apply(name, "bank", f"REG-{name}", "sec@bank.example.cn")
    approved = hub.admin("POST", f"/v1/admin/members/{client.member_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    return client


def test_taxii_misp_and_csv_carry_tokens_never_numbers(live_hub: Any, tmp_path: Path) -> None:
    banks = [_bank(live_hub, "A"), _bank(live_hub, "B")]
    for bank in banks:
        result = bank.report("phone", list(NUMBERS), "fraud", 95)
        assert not result.errors, result.errors
    epoch, key = banks[0].consortium_key()
    tokens = {hash_indicator("phone", n, key) for n in NUMBERS}

    member_id = banks[0].member_id
    minted = banks[0].create_reader_token("opencti", scope="taxii")
    auth = (member_id, minted["token"])
    base = f"{live_hub.url}/taxii2/lianfang/collections/"
    collections = requests.get(base, auth=auth, timeout=30).json()["collections"]
    polled = "".join(
        requests.get(f"{base}{c['id']}/objects/", auth=auth, timeout=30).text
        for c in collections
    )
    cfg = get_config(live_hub.app)
    cli = ["--data-dir", str(cfg.data_dir), "--database-url", cfg.database_url]
    runner = CliRunner()
    assert runner.invoke(main, [*cli, "export-misp", str(tmp_path / "misp")]).exit_code == 0
    misp = "".join(p.read_text() for p in sorted((tmp_path / "misp").iterdir()))
    exported_csv = runner.invoke(main, [*cli, "export-csv", "-"]).output

    for text in (polled, misp, exported_csv):
        assert all(token in text for token in tokens)  # a member with the key matches
        assert not any(run in text for run in DIGIT_RUNS)
    patterns = {o["pattern"] for c in collections for o in requests.get(
        f"{base}{c['id']}/objects/", auth=auth, timeout=30).json()["objects"]
        if o["type"] == "indicator"}
    assert patterns == {f"[x-lianfang-phone-token:value = '{t}']" for t in tokens}
    assert epoch == 1
