"""Provenance: every stored report is backed by a request its member signed.

`POST /v1/reports` keeps the exact signed body (compressed), the request target,
timestamp, nonce and Ed25519 signature with the batch, and every report row
points at the batch that last wrote it. `verify` re-checks, for every report,
that its batch's signature verifies under the member's public key over that
body, that the body's SHA-256 is the one recorded, and that the body really
contains the report (same member, indicator, category, confidence and epoch).
A report row written straight into the database — by an operator or an
attacker with database access — has no such batch and is named
(`lianfang-hub verify-provenance`).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models.indicator import Indicator
from hub.models.member import Member
from hub.models.report import Report, ReportBatch
from schemas.keys import b64decode
from schemas.membership import load_ed25519_public_key
from schemas.signing import request_signing_bytes

DEFAULT_PATH = "/v1/reports"


@dataclass(frozen=True)
class Problem:
    """One report without valid provenance, and why."""

    report_id: int
    member_id: str
    batch_id: str | None
    reason: str

    def line(self) -> str:
        return (f"report {self.report_id} (member {self.member_id}, batch "
                f"{self.batch_id or '-'}): {self.reason}")


@dataclass
class _BatchCheck:
    """A batch's verdict: None when its signature holds, else the reason; and its items."""

    problem: str | None
    items: dict[tuple[str, str, str], dict[str, Any]]


def _check_batch(batch: ReportBatch | None, member: Member | None) -> _BatchCheck:
    if batch is None:
        return _BatchCheck("no batch: the report was not stored by an ingest", {})
    if member is None or batch.member_id != member.id:
        return _BatchCheck("the batch belongs to another member", {})
    if batch.body is None:
        return _BatchCheck("the batch's signed body is not stored (purged or pre-0010)", {})
    if not (batch.signature and batch.signed_timestamp and batch.nonce):
        return _BatchCheck("the batch has no signature", {})
    try:
        body = zlib.decompress(batch.body)
    except zlib.error:
        return _BatchCheck("the stored body is corrupt", {})
    if hashlib.sha256(body).hexdigest() != batch.body_sha256:
        return _BatchCheck("the stored body does not match the recorded SHA-256", {})
    message = request_signing_bytes(
        "POST", batch.signed_path or DEFAULT_PATH, batch.signed_timestamp, batch.nonce,
        body, member.id,
    )
    try:
        load_ed25519_public_key(member.public_key).verify(b64decode(batch.signature), message)
    except (InvalidSignature, ValidationError, ValueError, TypeError):
        return _BatchCheck("the signature does not verify under the member's key", {})
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    try:
        for item in json.loads(body)["reports"]:
            if isinstance(item, dict):  # later items supersede earlier ones, as at ingest
                key = (str(item.get("kind")), str(item.get("value")), str(item.get("category")))
                items[key] = item
    except (ValueError, KeyError, TypeError):
        return _BatchCheck("the signed body is not a report batch", {})
    return _BatchCheck(None, items)


def verify(session: Session, page: int = 5000) -> Iterator[Problem]:
    """Every report without valid provenance, in id order (keyset pages of `page`)."""
    members = {m.id: m for m in session.scalars(select(Member))}
    checks: dict[str | None, _BatchCheck] = {}
    after = 0
    while True:
        rows = session.execute(
            select(
                Report.id, Report.member_id, Report.batch_id, Report.category,
                Report.confidence, Report.key_epoch, Indicator.kind, Indicator.value,
            )
            .join(Indicator, Indicator.id == Report.indicator_id)
            .where(Report.id > after)
            .order_by(Report.id)
            .limit(page)
        ).all()
        if not rows:
            return
        for row in rows:
            if row.batch_id not in checks:
                if len(checks) > 64:  # reports come in id order, batches mostly in turn
                    checks.clear()
                batch = session.get(ReportBatch, row.batch_id) if row.batch_id else None
                checks[row.batch_id] = _check_batch(batch, members.get(row.member_id))
            check = checks[row.batch_id]
            problem = check.problem
            if problem is None:
                item = check.items.get((row.kind, row.value, row.category))
                if item is None:
                    problem = "the member's signed batch does not contain this report"
                elif item.get("confidence") != row.confidence or (
                    item.get("key_epoch") != row.key_epoch
                ):
                    problem = "the report differs from what the member signed"
            if problem is not None:
                yield Problem(row.id, row.member_id, row.batch_id, problem)
        after = rows[-1].id
        session.expunge_all()


def count_reports(session: Session) -> int:
    """How many report rows `verify` looked at."""
    return int(session.scalar(select(func.count()).select_from(Report)) or 0)
