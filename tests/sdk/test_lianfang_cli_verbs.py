"""Every member verb of `lianfang` against the real hub over HTTP: human and JSON output,
exit statuses 0 / 1 / 2, settings from flags, environment and the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from client_sdk.cli import cli, load_private_key
from client_sdk.member_client import MemberClient
from hub.feeds.builder import build_feeds
from schemas.keys import fingerprint
from tests.helpers.cli import Bank, configured_bank, run, run_json

NUMBERS = ["13800138000", "13900139000"]


def _verbs(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _verbs(command, (*prefix, name))
    return found


VERBS = _verbs(cli)


def test_the_member_verbs_all_exist() -> None:
    expected = {"whoami", "fingerprint", "report", "retract", "case", "dispute", "disputes",
                "reports", "tokens", "lookup", "keygen", "apply", "sync", "check", "status"}
    assert expected <= {v[0] for v in VERBS}
    assert {("tokens", "list"), ("tokens", "mint"), ("tokens", "revoke")} <= set(VERBS)


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help_and_json_output(verb: tuple[str, ...]) -> None:
    result = run(*verb, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout
    command = cli
    for name in verb:
        command = command.commands[name]  # type: ignore[attr-defined]
    if not isinstance(command, click.Group) and verb not in (("mint-token",),):
        assert "--output" in result.stdout, verb


@pytest.fixture
def bank(live_hub: Any, tmp_path: Path) -> Bank:
    return configured_bank(live_hub, tmp_path / "cfg", "bank")


def test_whoami_from_the_config_file(live_hub: Any, bank: Bank) -> None:
    human = run("whoami", env=bank.env)
    assert human.exit_code == 0, human.output
    local = fingerprint(load_private_key(bank.key_path).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw))
    assert f"member: {bank.member_id}" in human.stdout
    assert "state: approved" in human.stdout and "weight: 1.0" in human.stdout
    assert f"key fingerprint: {local}" in human.stdout and "MISMATCH" not in human.stdout
    code, me = run_json("whoami", env=bank.env)
    assert code == 0
    assert (me["id"], me["state"], me["weight"], me["key_fingerprint"]) == (
        bank.member_id, "approved", 1.0, local)
    assert me["local_key_matches"] is True

    suspended = live_hub.admin("POST", f"/v1/admin/members/{bank.member_id}/suspend",
                               json={"reason": "audit pending"})
    assert suspended.status_code == 200
    refused = run("whoami", env=bank.env)  # a suspended member's signature is refused
    assert refused.exit_code == 2 and refused.stderr.startswith("Error: hub refused (403")
    assert refused.stderr.count("\n") == 1


def test_flag_beats_environment_beats_config(live_hub: Any, bank: Bank) -> None:
    down = "http://127.0.0.1:9"
    env_wins = run("whoami", env={**bank.env, "LIANFANG_HUB_URL": down})
    assert env_wins.exit_code == 2 and "unreachable" in env_wins.stderr
    flag_wins = run("whoami", "--hub", live_hub.url,
                    env={**bank.env, "LIANFANG_HUB_URL": down})
    assert flag_wins.exit_code == 0, flag_wins.output
    explicit = run("--config", str(bank.config), "whoami")
    assert explicit.exit_code == 0 and bank.member_id in explicit.stdout


def test_config_file_mistakes_are_one_line(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text('hub_url = "http://x"\n')
    result = run("whoami", env={"LIANFANG_CONFIG": str(typo)})
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "unknown setting hub_url" in result.stderr and "known: hub, key" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('hub = "unterminated\n')
    assert run("whoami", env={"LIANFANG_CONFIG": str(broken)}).exit_code == 2
    missing = run("whoami")  # no config file at all: the usual missing-option error
    assert missing.exit_code == 2 and "--hub" in missing.stderr


def test_report_exit_statuses_and_json_summary(live_hub: Any, bank: Bank, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("number\n13800138000\n13900139000\n")
    code, doc = run_json("report", str(good), "--category", "fraud", "--confidence", "90",
                         env=bank.env)
    assert code == 0
    batches = doc.pop("batches")
    assert batches["state"] == "accepted" and len(batches["ids"]) == 1
    assert doc | {"rejected_rows": []} == {
        "rows": 2, "accepted": 2, "rejected": 0, "rejected_by_reason": {},
        "encoding": "utf-8", "rejected_rows": []}
    code, doc = run_json("report", str(good), "--category", "fraud", "--confidence", "95",
                         "--wait", env=bank.env)
    assert code == 0 and doc["batches"]["state"] == "merged"
    client = MemberClient(live_hub.url, load_private_key(bank.key_path), bank.member_id)
    states = {client.batch(b)["state"] for b in doc["batches"]["ids"]}
    assert states == {"merged"}
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("number\n13700137000\nabc\n12\n")
    code, doc = run_json("report", str(mixed), "--category", "fraud", "--confidence", "90",
                         env=bank.env)
    assert code == 1 and (doc["accepted"], doc["rejected"]) == (1, 2)
    assert [r["line"] for r in doc["rejected_rows"]] == [3, 4]
    assert sum(doc["rejected_by_reason"].values()) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("number\nabc\n")
    human = run("report", str(bad), "--category", "fraud", "--confidence", "90", env=bank.env)
    assert human.exit_code == 2  # nothing accepted
    assert "read 1 rows: accepted 0, rejected 1" in human.stdout
    assert "line 2:" in human.stderr and "abc" not in human.stderr


def test_reports_retract_and_lookup(live_hub: Any, bank: Bank, tmp_path: Path) -> None:
    other = configured_bank(live_hub, tmp_path / "other", "other")
    for b in (bank, other):
        client = MemberClient(live_hub.url, _key(b), b.member_id)
        assert client.report("phone", NUMBERS, "fraud", 95, wait=True).accepted == 2

    code, listed = run_json("reports", env=bank.env)
    assert code == 0 and len(listed["items"]) == 2
    assert {r["state"] for r in listed["items"]} == {"active"}
    assert all(len(r["value"]) == 64 for r in listed["items"])  # hashed, never raw
    human = run("reports", env=bank.env)
    assert human.stdout.count("fraud") == 2 and "active" in human.stdout

    looked = run("lookup", *NUMBERS, "13600136000", env=bank.env)
    assert looked.exit_code == 0, looked.output
    assert "value 1: " in looked.stdout and "reporters=2" in looked.stdout
    assert "value 3: not listed" in looked.stdout
    assert "looked up 3: listed 2, not listed 1, invalid 0" in looked.stdout
    code, doc = run_json("lookup", NUMBERS[0], "garbage", env=bank.env)
    assert code == 1  # one invalid, one looked up
    assert [r["status"] for r in doc["results"]] == [200, 422]
    assert doc["results"][0]["listing"]["reporter_count"] == 2
    assert doc["summary"] == {"values": 2, "listed": 1, "not_listed": 0, "invalid": 1}
    assert run("lookup", "garbage", env=bank.env).exit_code == 2
    assert run("lookup", env=bank.env).exit_code == 2  # neither values nor --file

    as_file = tmp_path / "numbers.csv"
    as_file.write_text("name,number\na,13800138000\nb,13500135000\n")
    code, doc = run_json("lookup", "--file", str(as_file), env=bank.env)
    assert code == 0 and [(r["line"], r["status"]) for r in doc["results"]] == [(2, 200),
                                                                               (3, 404)]

    retracted = run("retract", NUMBERS[0], env=bank.env)
    assert retracted.exit_code == 0 and "retracted 1 report(s) on 1 value(s)" in retracted.stdout
    code, doc = run_json("reports", "--state", "retracted", env=bank.env)
    assert code == 0 and len(doc["items"]) == 1
    code, doc = run_json("retract", NUMBERS[1], "--category", "fraud", env=bank.env)
    assert code == 0 and doc["retracted"] == 1
    assert run("retract", "garbage", env=bank.env).exit_code == 2


def test_dispute_and_disputes(live_hub: Any, bank: Bank, tmp_path: Path) -> None:
    reporter = configured_bank(live_hub, tmp_path / "rep", "rep")
    client = MemberClient(live_hub.url, _key(reporter), reporter.member_id)
    assert client.report("phone", NUMBERS[:1], "fraud", 95).accepted == 1
    assert run("disputes", env=bank.env).stdout.strip() == "no disputes"

    opened = run("dispute", NUMBERS[0], "--reason", "our own customer service line",
                 env=bank.env)
    assert opened.exit_code == 0, opened.output
    assert opened.stdout.startswith("dispute ") and ": received" in opened.stdout
    code, doc = run_json("disputes", env=bank.env)
    assert code == 0 and [d["state"] for d in doc["items"]] == ["received"]
    assert doc["items"][0]["reason"] == "our own customer service line"
    code, doc = run_json("disputes", "--state", "upheld", env=bank.env)
    assert doc["items"] == []
    assert run_json("disputes", env=reporter.env)[1]["items"] == []  # only one's own

    short = run("dispute", NUMBERS[0], "--reason", "no", env=bank.env)
    assert short.exit_code == 2 and "reason:" in short.stderr and "{" not in short.stderr
    # A value nobody reported answers like a listed one: the receipt reveals nothing
    # about other members' data, and neither does this member's own dispute list.
    unlisted = run("dispute", "13600136000", "--reason", "never reported by anyone",
                   env=bank.env)
    assert unlisted.exit_code == 0 and ": received" in unlisted.stdout, unlisted.output
    code, doc = run_json("disputes", "--state", "received", env=bank.env)
    assert [d["state"] for d in doc["items"]] == ["received", "received"]


def test_case_verb(bank: Bank) -> None:
    result = run("case", "--indicator", "phone:13800138000", "--indicator",
                 "phone:13900139000", "--case-ref", "TICKET-1", env=bank.env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("case ") and " active (2 indicators)" in result.stdout
    code, doc = run_json("case", "--indicator", "phone:13700137000", "--indicator",
                         "email:a@b.example.cn", env=bank.env)
    assert code == 0 and "case_id" in doc and "group_id" not in doc
    assert run("case", "--indicator", "13800138000", "--indicator", "phone:1",
               env=bank.env).exit_code == 2
    bad = run("case", "--indicator", "phone:13800138000", "--indicator", "phone:abc",
              env=bank.env)
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1


def test_tokens_list_mint_revoke(live_hub: Any, bank: Bank, root_key: str,
                                 tmp_path: Path) -> None:
    assert run("tokens", "list", env=bank.env).stdout.strip() == "no reader tokens"
    code, minted = run_json("tokens", "mint", "--label", "screeners", env=bank.env)
    assert code == 0 and minted["label"] == "screeners" and minted["token"]
    human = run("tokens", "mint", env=bank.env)
    assert human.exit_code == 0 and "token id" in human.stderr
    code, listed = run_json("tokens", "list", env=bank.env)
    by_id = {t["id"]: t for t in listed["items"]}
    assert len(by_id) == 2 and by_id[minted["id"]]["label"] == "screeners"
    assert all("token" not in t for t in listed["items"])  # never the secret again
    assert "active" in run("tokens", "list", env=bank.env).stdout

    build_feeds(live_hub.app)
    feeds_env = {"LIANFANG_HUB_URL": live_hub.url, "LIANFANG_STATE_DIR": str(tmp_path / "s"),
                 "LIANFANG_ROOT_KEY": root_key, "LIANFANG_TOKEN": minted["token"]}
    assert run("sync", env=feeds_env).exit_code == 0
    revoked = run("tokens", "revoke", minted["id"], env=bank.env)
    assert revoked.exit_code == 0 and revoked.stdout.strip() == f"revoked {minted['id']}"
    assert run("sync", env=feeds_env).exit_code == 2  # every feed refused now
    code, listed = run_json("tokens", "list", env=bank.env)
    revoked_at = {t["id"]: t["revoked_at"] for t in listed["items"]}
    assert revoked_at[minted["id"]] is not None
    assert [v for k, v in revoked_at.items() if k != minted["id"]] == [None]
    missing = run("tokens", "revoke", "rt_nope", env=bank.env)
    assert missing.exit_code == 2 and "404" in missing.stderr


def test_tokens_mint_taxii_scope_reads_taxii_not_feeds(live_hub: Any, bank: Bank) -> None:
    code, minted = run_json("tokens", "mint", "--scope", "taxii", "--label", "opencti",
                            env=bank.env)
    assert code == 0 and minted["scope"] == "taxii" and minted["token"].startswith("lft_")
    assert f"{minted['id']}  taxii  opencti" in run("tokens", "list", env=bank.env).stdout
    auth = (bank.member_id, minted["token"])
    assert requests.get(live_hub.url + "/taxii2/", auth=auth, timeout=30).status_code == 200
    feeds = requests.get(live_hub.url + "/v1/consortium-key", timeout=30,
                         headers={"Authorization": f"Bearer {minted['token']}"})
    assert feeds.status_code == 401
    assert run("tokens", "mint", "--scope", "admin", env=bank.env).exit_code == 2


def _key(bank: Bank) -> Any:
    return load_private_key(bank.key_path)


def test_numbers_register_list_withdraw_and_see_the_admins_decision(
    live_hub: Any, bank: Bank, tmp_path: Path
) -> None:
    assert ("numbers", "register") in set(VERBS)
    assert run("numbers", "list", env=bank.env).stdout.strip() == "no numbers"
    added = run("numbers", "register", "９５５８８", "--name", "中国工商银行",
                "--purpose", "customer_service", env=bank.env)
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("number ") and "pending  中国工商银行 客户服务" in added.stdout
    code, doc = run_json("numbers", "list", env=bank.env)
    [item] = doc["items"]
    assert code == 0 and item["number"] == "cn-short:95588"
    decided = live_hub.admin("POST", f"/v1/admin/verified-numbers/{item['id']}",
                             json={"decision": "verify", "note": "published hotline"})
    assert decided.status_code == 200, decided.text
    listed = run("numbers", "list", "--state", "verified", env=bank.env).stdout
    assert "verified  note: published hotline" in listed
    other = configured_bank(live_hub, tmp_path / "other", "other")
    taken = run("numbers", "register", "95588", "--name", "假银行", "--purpose", "other",
                env=other.env)
    assert taken.exit_code == 2 and "409 number_verified_elsewhere" in taken.stderr
    assert run("numbers", "withdraw", str(item["id"]), env=other.env).exit_code == 2
    assert run("numbers", "withdraw", str(item["id"]), env=bank.env).exit_code == 0
    assert run_json("numbers", "list", env=bank.env)[1]["items"][0]["state"] == "withdrawn"
    bad = run("numbers", "register", "99999", "--name", "x", "--purpose", "other", env=bank.env)
    assert bad.exit_code == 2 and "raw_number" in bad.stderr and "99999" not in bad.stderr
