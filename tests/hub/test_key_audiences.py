"""Attack: a compromised screener's reader token and the keys it can fetch.

The review fetched the consortium key with a reader token and enumerated ID
numbers (18 district codes x 30 birth years x 1,000 sequence numbers: 22 s at
9M HMAC/s). Each epoch now holds two keys: the phone key a reader token may
fetch, and the identity key only a signed approved member receives. Real hub
over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from client_sdk.member_client import MemberClient
from hub import get_config
from hub.db import get_db
from hub.models.audit import AuditEntry
from hub.models.indicator import Indicator
from hub.services import key_rotation
from schemas.indicators import hash_indicator
from schemas.keys import b64decode
from tests.hub.hardening_support import mint_reader_token

ID_NUMBER = "11010519491231002X"


def _member(hub: Any) -> MemberClient:
    client = MemberClient(hub.url, Ed25519PrivateKey.generate(), max_retries=2)
    client.apply("Bank of Tests", "bank", "REG-0001", "sec@bank.example.cn")
    answer = hub.admin("POST", f"/v1/admin/members/{client.member_id}/approve", json={})
    assert answer.status_code == 200, answer.text
    return client


def _reader_document(hub: Any, token: str) -> dict[str, Any]:
    answer = hub.http.get(hub.url + "/v1/consortium-key", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _rotate(hub: Any) -> None:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        key_rotation.rotate(session, get_config(hub.app), actor="test")
        session.commit()


def _issued_rows(hub: Any, actor: str) -> int:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "consortium_key.issued", AuditEntry.actor == actor))


def test_reader_key_document_holds_no_identity_key(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    _, token = mint_reader_token(live_hub, member_id, key)
    _rotate(live_hub)  # two live epochs: the split holds for the retiring one too
    stolen = _reader_document(live_hub, token)
    assert stolen["audience"] == "reader" and len(stolen["keys"]) == 2
    assert all("identity_key" not in entry for entry in stolen["keys"])
    signed = live_hub.member(member_id, key, "GET", "/v1/consortium-key").json()
    assert signed["audience"] == "member"
    phone = {e["epoch"]: e["key"] for e in signed["keys"]}
    assert phone == {e["epoch"]: e["key"] for e in stolen["keys"]}
    identity = {e["epoch"]: e["identity_key"] for e in signed["keys"]}
    current = signed["current_epoch"]
    assert identity[current] != phone[current]
    assert identity[current] not in str(stolen)


def test_case_hashed_by_member_cannot_be_reproduced_with_the_phone_key(live_hub: Any) -> None:
    _rotate(live_hub)  # an epoch with its own identity key
    member = _member(live_hub)
    member.report_case([("id_number", ID_NUMBER), ("phone", "13800138000")])
    _, token = (None, member.mint_reader_token("screener"))
    stolen = _reader_document(live_hub, token)
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        stored = set(session.scalars(select(Indicator.value).where(Indicator.kind == "id_number")))
    assert len(stored) == 1
    for entry in stolen["keys"]:
        guess = hash_indicator("id_number", ID_NUMBER, b64decode(entry["key"], length=32))
        assert guess not in stored  # the enumeration the review ran now finds nothing
    epoch, identity_key = member.consortium_key("id_number")
    assert hash_indicator("id_number", ID_NUMBER, identity_key) in stored
    phone_epoch, phone_key = member.consortium_key("phone")
    assert phone_epoch == epoch and phone_key != identity_key


def test_polling_screener_is_audited_once_per_day_and_epoch_set(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    token_id, token = mint_reader_token(live_hub, member_id, key)
    actor = f"reader:{token_id}"
    for _ in range(30):
        _reader_document(live_hub, token)
    assert _issued_rows(live_hub, actor) == 1
    _rotate(live_hub)
    for _ in range(5):
        _reader_document(live_hub, token)
    assert _issued_rows(live_hub, actor) == 2  # a new epoch set is a new issuance
