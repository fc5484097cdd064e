"""Member webhooks (issue 19): registration, the outbox, and the delivery job.

Why an outbox: an event row is inserted in the transaction that makes the change
(`remerge` for tiers, `disputes.resolve` for decisions and weights), so no event
is sent for a change that rolled back and none is lost for one that committed.
`deliver_due` (an APScheduler job, `hub.feeds.scheduler`) claims due rows in a short
transaction, POSTs them with a timeout outside any transaction, and records the
outcome; a failure is retried after `webhook_backoff_s * 2**(attempts-1)` seconds
until `webhook_max_attempts`.

Signing: HMAC-SHA256 with a per-webhook secret shown once at registration. The
secret is not stored: it is `HMAC(webhook.key, webhook id)`, the key being a
0600 file in the hub's keys directory, so a database leak does not leak it.
Events name indicators by their keyed hash (the stored `value`), never a raw number.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.db import get_db
from hub.errors import ApiError
from hub.filemodes import PRIVATE_FILE_MODE, private_dir
from hub.models.member import Member
from hub.models.webhook import Webhook, WebhookDelivery
from schemas.enums import MemberState
from schemas.timefmt import format_time, utcnow
from schemas.webhook_signature import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

KEY_FILE = "webhook.key"
MAX_WEBHOOKS_PER_MEMBER = 5
EVENT_TIER = "listing.tier_changed"
EVENT_DISPUTE = "dispute.decided"
EVENT_WEIGHT = "member.weight_changed"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_BATCH = 50


# ------------------------------------------------------------------ secrets


def _master_key(keys_dir: Path) -> bytes:
    """The hub's webhook key, created once (0600, atomically via link so concurrent
    workers agree on one key)."""
    path = keys_dir / KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    private_dir(keys_dir)
    temp = keys_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)  # fails when another worker won: read its key
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_bytes()


def webhook_secret(config: HubConfig, webhook_id: str) -> str:
    """The signing secret of one webhook: derived, never stored."""
    key = _master_key(config.keys_dir)
    return "whsec_" + hmac.new(key, webhook_id.encode("ascii"), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ registration


def check_url(url: str, *, allow_loopback_http: bool) -> None:
    """HTTPS only; plain http only to loopback when the test setting allows it; no
    IP literal outside the public internet (the hub must not be pointed at its LAN)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise ApiError(422, "validation_error", "invalid url",
                       fields={"url": ["needs a host and no credentials"]})
    loopback = host in _LOOPBACK_HOSTS
    if parts.scheme == "http" and loopback and allow_loopback_http:
        return
    if parts.scheme != "https":
        raise ApiError(422, "validation_error", "invalid url", fields={"url": ["must be https://"]})
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if loopback or (address is not None and not address.is_global):
        raise ApiError(422, "validation_error", "invalid url",
                       fields={"url": ["must not point at a private or loopback address"]})


def register(session: Session, config: HubConfig, member_id: str, url: str) -> tuple[Webhook, str]:
    check_url(url, allow_loopback_http=config.webhook_allow_loopback_http)
    if len(member_webhooks(session, member_id)) >= MAX_WEBHOOKS_PER_MEMBER:
        raise ApiError(409, "too_many_webhooks", f"at most {MAX_WEBHOOKS_PER_MEMBER} webhooks")
    row = Webhook(id="whk_" + secrets.token_hex(8), member_id=member_id, url=url,
                  created_at=utcnow())
    session.add(row)
    session.flush()
    return row, webhook_secret(config, row.id)


def member_webhooks(session: Session, member_id: str) -> list[Webhook]:
    return list(session.scalars(
        select(Webhook).where(Webhook.member_id == member_id).order_by(Webhook.created_at)
    ))


def owned(session: Session, member_id: str, webhook_id: str) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or row.member_id != member_id:
        raise ApiError(404, "not_found", f"no webhook {webhook_id}")
    return row


def webhook_to_dict(row: Webhook) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "created_at": format_time(row.created_at)}


def delivery_to_dict(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id, "webhook_id": row.webhook_id, "event": row.event, "state": row.state,
        "attempts": row.attempts, "last_status": row.last_status, "last_error": row.last_error,
        "created_at": format_time(row.created_at),
        "next_attempt_at": format_time(row.next_attempt_at) if row.state == "pending" else None,
        "delivered_at": format_time(row.delivered_at) if row.delivered_at else None,
    }


def deliveries(session: Session, webhook_id: str | None = None, limit: int = 100
               ) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == webhook_id)
    return list(session.scalars(query))


def console_deliveries(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The newest deliveries of all members for the admin console, with member names
    (the URL is shown, never a payload: payloads name indicators)."""
    rows = session.execute(
        select(WebhookDelivery, Webhook.url, Member.name)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(Member, Member.id == WebhookDelivery.member_id)
        .order_by(WebhookDelivery.id.desc()).limit(limit)
    )
    return [{**delivery_to_dict(row), "url": url, "member_id": row.member_id,
             "member_name": name, "created": row.created_at} for row, url, name in rows]


def webhook_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Webhook)) or 0)


# ------------------------------------------------------------------ the outbox


def emit(session: Session, events: Sequence[tuple[str, str, dict[str, Any]]],
         now: datetime) -> int:
    """Queue `(member_id, event, data)` for each of the member's webhooks, in the
    caller's transaction: one SELECT and one bulk INSERT, nothing when no member has
    a webhook."""
    members = sorted({member for member, _, _ in events})
    if not members:
        return 0
    hooks: dict[str, list[str]] = {}
    for hook_id, member_id in session.execute(
        select(Webhook.id, Webhook.member_id)
        .join(Member, Member.id == Webhook.member_id)
        .where(Webhook.member_id.in_(members), Member.state == MemberState.APPROVED.value)
    ):  # a suspended or revoked member is told nothing
        hooks.setdefault(member_id, []).append(hook_id)
    if not hooks:
        return 0
    rows = []
    for member_id, event, data in events:
        for hook_id in hooks.get(member_id, ()):
            payload = {"type": event, "member_id": member_id, "created_at": format_time(now),
                       "data": data}
            rows.append({
                "webhook_id": hook_id, "member_id": member_id, "event": event,
                "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
                "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
            })
    if rows:
        session.execute(WebhookDelivery.__table__.insert(), rows)
    return len(rows)


def tier_events(changes: Iterable[tuple[str, str, str | None, str, Iterable[str]]]
                ) -> list[tuple[str, str, dict[str, Any]]]:
    """`(kind, keyed value, old tier, new tier, reporters)` -> one event per reporter."""
    return [
        (member, EVENT_TIER, {"kind": kind, "value": value, "old_tier": old, "new_tier": new})
        for kind, value, old, new, reporters in changes
        for member in sorted(set(reporters))
    ]


def purge_finished(session: Session, before: datetime) -> int:
    """Delete delivered and failed events created before `before` (the retention purge);
    pending ones stay whatever their age."""
    result = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.state.in_(("delivered", "failed")), WebhookDelivery.created_at < before
        )
    )
    return max(int(result.rowcount or 0), 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ delivery


def _claim(session: Session, now: datetime, lease: timedelta) -> list[int]:
    due = list(session.execute(
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(_BATCH)
    ))
    claimed = []
    for ident, at in due:  # compare-and-set: another worker's claim moves next_attempt_at
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == ident, WebhookDelivery.next_attempt_at == at,
                   WebhookDelivery.state == "pending")
            .values(next_attempt_at=now + lease)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(ident)
    session.commit()
    return claimed


def deliver_due(app: Flask, config: HubConfig, now: datetime | None = None) -> int:
    """Deliver `app`'s due events under `config` (the caller passes HubConfig of `app`);
    returns how many were attempted. No DB transaction is open while a POST is in flight."""
    now = now or utcnow()
    database = get_db(app)
    lease = timedelta(seconds=4 * config.webhook_timeout_s + 30)
    with database.new_session(write=True) as session:
        claimed = _claim(session, now, lease)
        jobs = [
            (row.id, row.webhook_id, row.payload, url, row.attempts)
            for row, url in session.execute(
                select(WebhookDelivery, Webhook.url)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id.in_(claimed))
                .order_by(WebhookDelivery.id)
            )
        ] if claimed else []
        session.rollback()
    for ident, hook_id, payload, url, attempts in jobs:
        status, error = _post(config, ident, hook_id, url, payload.encode("utf-8"))
        with database.new_session(write=True) as session:
            row = session.get(WebhookDelivery, ident)
            if row is None:  # the webhook was deleted meanwhile
                continue
            row.attempts = attempts + 1
            row.last_status = status
            row.last_error = error
            if status is not None and 200 <= status < 300:
                row.state = "delivered"
                row.delivered_at = now
            elif row.attempts >= config.webhook_max_attempts:
                row.state = "failed"
            else:
                delay = config.webhook_backoff_s * 2 ** (row.attempts - 1)
                row.next_attempt_at = now + timedelta(seconds=delay)
            session.commit()
    return len(jobs)


def _post(config: HubConfig, ident: int, hook_id: str, url: str, body: bytes
          ) -> tuple[int | None, str | None]:
    timestamp = str(int(utcnow().timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_HEADER: str(ident),
        SIGNATURE_HEADER: sign(webhook_secret(config, hook_id), timestamp, body),
    }
    try:
        # stream=True: the answer's body is never read, so a hostile endpoint cannot
        # make the hub download anything; no redirects, so it cannot bounce us inward.
        response = requests.post(url, data=body, headers=headers, allow_redirects=False,
                                 stream=True,
                                 timeout=(config.webhook_timeout_s, config.webhook_timeout_s))
    except requests.RequestException as exc:
        return None, type(exc).__name__
    response.close()
    ok = 200 <= response.status_code < 300
    return response.status_code, None if ok else f"HTTP {response.status_code}"
