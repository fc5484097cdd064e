"""Helpers for the reports/cases/disputes/allowlist tests: signed calls and DB peeks."""

from __future__ import annotations

import json as jsonlib
import secrets
import time
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from hub.db import get_db
from hub.models.feed_change import FeedChange
from tests.helpers.signed import signed_request

Member = tuple[str, Ed25519PrivateKey]


def hv() -> str:
    """A random 64-hex value: stands in for a member's keyed hash."""
    return secrets.token_hex(32)


def rep(value: str, category: str = "fraud", confidence: int = 90, **extra: Any) -> dict:
    return {
        "kind": "phone",
        "value": value,
        "category": category,
        "confidence": confidence,
        "key_epoch": 1,
        **extra,
    }


def signed(
    hub: Any,
    member: Member,
    method: str,
    path: str,
    json: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    """A member-signed request with optional extra headers (e.g. Idempotency-Key)."""
    member_id, key = member
    body = raw if raw is not None else (b"" if json is None else jsonlib.dumps(json).encode())
    prepared = signed_request(
        member_id,
        key,
        method,
        hub.url + path,
        body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return hub.http.send(prepared, timeout=60)


def report(
    hub: Any, member: Member, reports: list[dict], *, wait: bool = True, **kw: Any
) -> requests.Response:
    """POST the batch; with `wait` (as `lianfang report --wait` does) return once
    `GET /v1/batches/<id>` says `merged`, so the listings reflect it."""
    response = signed(hub, member, "POST", "/v1/reports", {"reports": reports}, **kw)
    if wait and response.status_code == 200:
        wait_merged(hub, member, response.json()["batch_id"])
    return response


def wait_merged(hub: Any, member: Member, batch_id: str, timeout_s: float = 60) -> dict:
    """Poll the member's batch until the merge consumer has merged it."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = signed(hub, member, "GET", f"/v1/batches/{batch_id}")
        assert state.status_code == 200, state.text
        if state.json()["state"] == "merged":
            return state.json()
        assert time.monotonic() < deadline, f"batch {batch_id} not merged: {state.text}"
        time.sleep(0.02)


def listing(hub: Any, member: Member, value: str, kind: str = "phone") -> dict:
    response = signed(hub, member, "GET", f"/v1/indicators/{kind}/{value}")
    assert response.status_code == 200, response.text
    return response.json()


def journal(hub: Any, after: int = 0) -> list[tuple[str, str, str]]:
    """Feed journal rows with id > after, as (feed, value, op)."""
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        rows = session.execute(
            select(FeedChange.feed, FeedChange.value, FeedChange.op)
            .where(FeedChange.id > after)
            .order_by(FeedChange.id)
        )
        return [tuple(r) for r in rows]


def journal_head(hub: Any) -> int:
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        return int(session.scalar(select(func.coalesce(func.max(FeedChange.id), 0))))


def count(hub: Any, model: Any) -> int:
    with hub.app.app_context(), get_db(hub.app).new_session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)))
