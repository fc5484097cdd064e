"""Consortium keys: served to approved members and reader tokens, rotated, encrypted at rest."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from cryptography.exceptions import InvalidTag
from flask import Flask
from sqlalchemy import select

from hub import get_config
from hub.cli import main
from hub.db import get_db
from hub.models.consortium import ConsortiumKey
from hub.services import audit, consortium_keys, key_rotation
from schemas.keys import b64decode


def _wrap(app: Flask) -> bytes:
    return consortium_keys.config_wrapping_key(get_config(app))


def _document(app: Flask, session: Any) -> dict[str, Any]:
    cfg = get_config(app)
    return consortium_keys.key_document(session, _wrap(app), cfg.consortium_retire_after_s,
                                        identity=True)


def test_members_and_reader_tokens_get_the_same_phone_key(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    by_member = live_hub.member(member_id, key, "GET", "/v1/consortium-key")
    assert by_member.status_code == 200
    doc = by_member.json()
    assert doc["current_epoch"] == 1
    [entry] = doc["keys"]
    assert entry["epoch"] == 1 and entry["state"] == "current"
    assert len(b64decode(entry["key"])) == 32 and entry["created_at"].endswith("Z")
    assert by_member.headers["Cache-Control"] == "no-store"

    minted = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={}).json()
    token, token_id = minted["token"], minted["id"]
    by_reader = requests.get(
        live_hub.url + "/v1/consortium-key",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    reader_doc = by_reader.json()
    assert reader_doc["audience"] == "reader" and doc["audience"] == "member"
    assert [{k: v for k, v in e.items() if k != "identity_key"} for e in doc["keys"]] == (
        reader_doc["keys"])

    with get_db(live_hub.app).new_session(write=False) as session:
        issued = [e for e in audit.entries(session, subject=member_id)
                  if e.action == "consortium_key.issued"]
        assert audit.verify_chain(session)[0]
    assert sorted(e.actor for e in issued) == sorted([f"member:{member_id}", f"reader:{token_id}"])
    for entry in issued:
        assert '"epochs":[1]' in entry.details
        assert doc["keys"][0]["key"] not in entry.details
        assert doc["keys"][0]["identity_key"] not in entry.details


def test_pending_member_gets_no_key(live_hub: Any) -> None:
    member_id, key = live_hub.new_member(approve=False)
    response = live_hub.member(member_id, key, "GET", "/v1/consortium-key")
    assert response.status_code == 403


def test_rotation_moves_epochs_through_states(hub_app: Flask) -> None:
    db = get_db(hub_app)
    with hub_app.app_context(), db.new_session() as session:
        first_epoch, first_key = consortium_keys.current_key(session, _wrap(hub_app))
        assert (first_epoch, len(first_key)) == (1, 32)
        assert key_rotation.rotate(session, get_config(hub_app)) == 2
        session.commit()
        assert consortium_keys.epoch_states(session) == {1: "retiring", 2: "current"}
        epoch, second_key = consortium_keys.current_key(session, _wrap(hub_app))
        assert epoch == 2 and second_key != first_key
        doc = _document(hub_app, session)
        assert doc["current_epoch"] == 2
        assert [(k["epoch"], k["state"]) for k in doc["keys"]] == [(2, "current"), (1, "retiring")]
        assert "retires_at" in doc["keys"][1]
        assert b64decode(doc["keys"][1]["key"]) == first_key
        key_rotation.rotate(session, get_config(hub_app))
        session.commit()
        assert consortium_keys.epoch_states(session) == {1: "retired", 2: "retiring", 3: "current"}
        assert [k["epoch"] for k in _document(hub_app, session)["keys"]] == [3, 2]


def test_keys_are_encrypted_at_rest_and_master_key_is_private(hub_app: Flask) -> None:
    data_dir = Path(hub_app.config["LIANFANG"].data_dir)
    master = data_dir / "keys" / "master.key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600
    db = get_db(hub_app)
    with hub_app.app_context(), db.new_session(write=False) as session:
        _, raw_key = consortium_keys.current_key(session, _wrap(hub_app))
        row = session.scalars(select(ConsortiumKey)).one()
    assert raw_key not in row.ciphertext and raw_key not in row.nonce
    # tampering with the ciphertext makes decryption fail instead of yielding a wrong key
    with db.new_session() as session:
        stored = session.get(ConsortiumKey, 1)
        assert stored is not None
        stored.ciphertext = bytes([stored.ciphertext[0] ^ 1]) + stored.ciphertext[1:]
        session.commit()
    with (
        hub_app.app_context(),
        db.new_session(write=False) as session,
        pytest.raises(InvalidTag),
    ):
        consortium_keys.current_key(session, _wrap(hub_app))


def test_cli_rotate_consortium_key(hub_app: Flask, db_url: str) -> None:
    data_dir = hub_app.config["LIANFANG"].data_dir
    result = CliRunner().invoke(
        main, ["--database-url", db_url, "--data-dir", str(data_dir), "rotate-consortium-key"]
    )
    assert result.exit_code == 0, result.output
    assert "epoch 2 is current" in result.output
    with get_db(hub_app).new_session(write=False) as session:
        assert consortium_keys.epoch_states(session) == {1: "retiring", 2: "current"}
