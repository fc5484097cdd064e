"""Shared by the complaint-group tests: real members, the published feed, group lookups."""

from __future__ import annotations

import secrets
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from client_sdk.member_client import MemberClient
from hub.db import get_db
from hub.models.case import ComplaintGroup
from hub.models.indicator import Indicator
from schemas.artifact import DELTA, SNAPSHOT, apply_record_delta, decode_artifact
from schemas.manifest import record_set_digest
from tests.hub.reports_support import signed

OBSERVED = "2026-01-05T10:00:00Z"


def case_body(indicators: list[tuple[str, str]], **extra: object) -> dict[str, Any]:
    """A signed-request body for `POST /v1/cases` with already-hashed values."""
    return {
        "indicators": [{"kind": k, "value": v} for k, v in indicators],
        "key_epoch": 1,
        "observed_at": OBSERVED,
        **extra,
    }


def bank(hub: Any) -> MemberClient:
    """An approved member driven by the real SDK client."""
    client = MemberClient(hub.url, Ed25519PrivateKey.generate(), max_retries=2)
    client.apply(f"Bank {secrets.token_hex(3)}", "bank", f"REG-{secrets.token_hex(4)}",
                 "sec@bank.example.cn")
    answer = hub.admin("POST", f"/v1/admin/members/{client.member_id}/approve", json={})
    assert answer.status_code == 200, answer.text
    return client


def raw_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def raw_id_number(sequence: int | None = None) -> str:
    """A mainland ID number with a valid check digit (the normaliser verifies it);
    distinct `sequence` numbers (0-999) give distinct numbers."""
    seq = secrets.randbelow(1000) if sequence is None else sequence
    body = "110105" + "19" + f"{secrets.randbelow(80) + 20:02d}" + "0101" + f"{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def label_of(hub: Any, kind: str, value: str) -> str | None:
    """The group label a hashed value is in (what only the association can see)."""
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return session.scalar(
            select(ComplaintGroup.label)
            .join(Indicator, Indicator.group_id == ComplaintGroup.id)
            .where(Indicator.kind == kind, Indicator.value == value)
        )


def hashed(client: MemberClient, kind: str, raw: str) -> str:
    """The wire value `client` sends for `raw` (to find it on the hub side)."""
    from client_sdk.member_client import _hashed_value

    return _hashed_value(kind, raw, client.consortium_key(kind)[1])


def fetch_ok(hub: Any, member: Any, path: str) -> requests.Response:
    """A member-signed GET that must answer 200."""
    response = signed(hub, member, "GET", path)
    assert response.status_code == 200, response.text
    return response


def feed_records(hub: Any, member: Any, feed: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest and the records a member downloads: snapshot plus deltas, digest checked."""
    signed_manifest = fetch_ok(hub, member, f"/v1/feeds/{feed}/manifest.json").json()["signed"]
    records: list[dict[str, Any]] = []
    for ref in [signed_manifest["snapshot"], *signed_manifest["deltas"]]:
        art = decode_artifact(fetch_ok(hub, member, f"/v1/feeds/{feed}/{ref['path']}").content)
        if art.type == SNAPSHOT:
            records = list(art.records)
        else:
            assert art.type == DELTA
            records = apply_record_delta(records, art.records, art.removed_ids)
    assert record_set_digest(records) == signed_manifest["set_digest"]
    return signed_manifest, records
