"""Signed audit checkpoints: a rewritten audit chain is caught by those who kept one.

Written as the attack of issue 14: whoever can write the database edits an
audit row's actor, deletes a row, re-hashes the whole chain and the head, so
`verify_chain` (and the old `lianfang-hub verify-audit`) says OK. A member or
screener that kept a checkpoint from before reports `audit_rewrite` -- from the
SDK, from `lianfang sync`, from `lianfang verify-audit` -- and the hub's own
`verify-audit --checkpoints` names the contradicted row. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from client_sdk.cli import cli as member_cli
from client_sdk.errors import AuditRewriteError
from client_sdk.feed_client import FeedClient
from client_sdk.trust import AuditCheckpoint, compare_audit_checkpoint, verify_audit_segment
from hub.cli import main as hub_cli
from hub.db import get_db
from hub.models.audit import GENESIS_HASH, AuditEntry
from hub.services import audit
from schemas.timefmt import format_time, utcnow
from tests.helpers.audit import append_entries

Rows = list[dict[str, Any]]


def _append(hub: Any, count: int) -> None:
    append_entries(hub.app, count, actor="admin:alice")


def _rewrite(hub: Any, mutate: Callable[[Rows], Rows]) -> None:
    """The attacker with database access: change rows, renumber, re-hash, move the head."""
    db = get_db(hub.app)
    with db.new_session(write=False) as session:
        rows = [
            {"at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
             "details": e.details}
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    rows = mutate(rows)
    prev = GENESIS_HASH
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
        for seq, row in enumerate(rows, start=1):
            fields = {"id": seq, "at": format_time(row["at"]), "actor": row["actor"],
                      "action": row["action"], "subject": row["subject"],
                      "details": json.loads(row["details"])}
            digest = audit.entry_hash(prev, fields)
            conn.execute(
                text("INSERT INTO audit_log (id, at, actor, action, subject, details, "
                     "prev_hash, hash) VALUES (:id, :at, :actor, :action, :subject, :details, "
                     ":prev, :hash)"),
                {**row, "id": seq, "prev": prev, "hash": digest},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                     {"s": len(rows), "h": prev})
    with db.new_session(write=False) as session:
        assert audit.verify_chain(session) == (True, None)  # the old check is fooled


def _edit_actor(rows: Rows) -> Rows:
    rows[1] = {**rows[1], "actor": "admin:nobody"}
    return rows


def _delete_one(rows: Rows) -> Rows:
    return rows[:2] + rows[3:]


def _client(hub: Any, root_key: str, state: Path, member: tuple[str, Any]) -> FeedClient:
    return FeedClient(hub.url, root_key, state, member_id=member[0], private_key=member[1],
                      feeds=("phone-block",))


@pytest.mark.parametrize("attack", [_edit_actor, _delete_one], ids=["edit-actor", "delete-row"])
def test_a_rehashed_chain_is_reported_by_members_who_kept_a_checkpoint(
    live_hub: Any, root_key: str, tmp_path: Path, attack: Callable[[Rows], Rows], db_url: str
) -> None:
    member = live_hub.new_member()
    _append(live_hub, 6)
    client = _client(live_hub, root_key, tmp_path / "state", member)
    first = client.verify_audit()
    assert first.ok and first.seq is not None and first.seq >= 6, first
    _append(live_hub, 3)  # honest growth links from the kept checkpoint
    grown = client.verify_audit()
    assert grown.ok and grown.seq == first.seq + 3 and grown.rows_checked == 4, grown

    _rewrite(live_hub, attack)
    status = client.verify_audit()
    assert not status.ok and status.error_code == "audit_rewrite", status
    # it stays reported: the kept checkpoints are not replaced by the rewritten head
    assert client.verify_audit().error_code == "audit_rewrite"
    # a screener's regular sync reports it too, with the same code, feeds unaffected
    results = client.sync()
    assert client.audit_status is not None
    assert client.audit_status.error_code == "audit_rewrite"
    assert set(results) == {"phone-block"}
    client.close()

    # the member CLI, from the same state dir
    key_file = tmp_path / "member.pem"
    key_file.write_bytes(_pem(member[1]))
    out = CliRunner().invoke(member_cli, [
        "verify-audit", "--hub", live_hub.url, "--root-key", root_key,
        "--state-dir", str(tmp_path / "state"), "--key", str(key_file),
        "--member-id", member[0]])
    assert out.exit_code == 2 and "audit_rewrite" in out.output, out.output

    # the operator's own tool, given the member's kept checkpoints
    kept = tmp_path / "state" / "trust" / "audit-checkpoints.json"
    base = ["--database-url", db_url, "--data-dir", str(live_hub.data_dir), "verify-audit"]
    hub_out = CliRunner().invoke(hub_cli, [*base, "--checkpoints", str(kept)])
    assert hub_out.exit_code == 1 and "audit_rewrite" in hub_out.output, hub_out.output
    plain = CliRunner().invoke(hub_cli, base)
    assert plain.exit_code == 0  # without the checkpoints the rewrite is invisible


def test_a_shortened_chain_and_a_fresh_member_after_the_rewrite(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    member = live_hub.new_member()
    _append(live_hub, 4)
    client = _client(live_hub, root_key, tmp_path / "a", member)
    assert client.verify_audit().ok
    _rewrite(live_hub, lambda rows: rows[:-2])  # the newest rows deleted, chain re-hashed
    status = client.verify_audit()
    assert status.error_code == "audit_rewrite" and "deleted" in (status.error or "")
    # Documented limit: a member whose first checkpoint comes after the rewrite sees none.
    late = _client(live_hub, root_key, tmp_path / "b", member)
    assert late.verify_audit().ok
    client.close()
    late.close()


def test_honest_history_verifies_over_many_pages(
    live_hub: Any, root_key: str, tmp_path: Path
) -> None:
    member = live_hub.new_member()
    client = _client(live_hub, root_key, tmp_path / "s", member)
    assert client.verify_audit().ok
    _append(live_hub, 2100)
    status = client.verify_audit()
    assert status.ok and status.rows_checked == 2101, status
    assert [c.seq for c in client.audit_checkpoints()] == sorted(
        {c.seq for c in client.audit_checkpoints()})
    # the chain proof shows hashes only: no actor, subject or details of anyone
    proof = live_hub.member(*member, "GET", "/v1/audit/chain?from=1&limit=3").json()
    assert all(set(row) == {"seq", "prev_hash", "hash"} for row in proof["rows"])
    assert "admin:alice" not in json.dumps(proof)
    bad = live_hub.member(*member, "GET", "/v1/audit/chain?from=0&limit=5000")
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"from", "limit"}
    client.close()


def test_checkpoint_needs_a_reader_or_member_and_is_signed_by_the_feed_key(live_hub) -> None:
    import requests

    assert requests.get(live_hub.url + "/v1/audit/checkpoint.json", timeout=10).status_code == 401
    member = live_hub.new_member()
    answer = live_hub.member(*member, "GET", "/v1/audit/checkpoint.json")
    assert answer.status_code == 200
    signed = answer.json()["signed"]
    assert signed["type"] == "audit-checkpoint" and signed["format"] == 1
    with live_hub.app.app_context(), get_db(live_hub.app).new_session(write=False) as session:
        assert (signed["seq"], signed["hash"]) == audit.head(session)


# -------------------------------------------------------------- trust core, pure


def _cp(seq: int, digest: str) -> AuditCheckpoint:
    return AuditCheckpoint(seq, digest, utcnow())


def _chain(n: int) -> list[dict[str, Any]]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        digest = f"{seq:064x}"
        rows.append({"seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def test_trust_core_refuses_every_inconsistent_segment() -> None:
    rows = _chain(10)
    start, end = _cp(4, rows[3]["hash"]), _cp(10, rows[9]["hash"])
    assert verify_audit_segment(start, end, rows[3:]) == 7
    assert verify_audit_segment(_cp(0, GENESIS_HASH), end, rows) == 10
    forged_link = [dict(r) for r in rows[3:]]
    forged_link[2]["prev_hash"] = "f" * 64
    skipped = rows[3:5] + rows[6:]
    for bad in (rows[4:], forged_link, skipped, rows[3:8]):
        with pytest.raises(AuditRewriteError):
            verify_audit_segment(start, end, bad)
    with pytest.raises(AuditRewriteError):
        verify_audit_segment(_cp(4, "e" * 64), end, rows[3:])
    with pytest.raises(AuditRewriteError):
        compare_audit_checkpoint([start], _cp(4, "e" * 64))
    with pytest.raises(AuditRewriteError):
        compare_audit_checkpoint([start, end], _cp(7, rows[6]["hash"]))
    assert compare_audit_checkpoint([start], end) == start
    assert compare_audit_checkpoint([], end) is None


def _pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
