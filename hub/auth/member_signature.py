"""Verify signed member requests (docs/ARCHITECTURE.md §3, docs/FORMATS.md "Member requests").

Order of checks: headers present → member known → signature valid → timestamp
inside the window → nonce unused (and burnt) → member approved. The nonce is recorded in its
own committed transaction, so a replay is refused even when the first request
failed later on; nonces older than the retention period are purged as we go.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from cryptography.exceptions import InvalidSignature
from flask import g, request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from hub import db, get_config
from hub.auth.bearer import bearer_token
from hub.errors import ApiError
from hub.models.member import Member
from hub.models.nonce import SeenNonce
from hub.ratelimit import check_member
from hub.services.tokens import reader_token_lookup
from schemas.enums import MemberState
from schemas.keys import ED25519_SIGNATURE_LEN, b64decode
from schemas.membership import load_ed25519_public_key
from schemas.signing import (
    HEADER_IDEMPOTENCY,
    HEADER_MEMBER,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    LEGACY_SIGNING_DOMAIN,
    NONCE_PATTERN,
    request_signing_bytes,
)
from schemas.timefmt import utcnow

F = TypeVar("F", bound=Callable[..., Any])

_NONCE_RE = re.compile(NONCE_PATTERN)
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_MEMBER_ID_RE = re.compile(r"^mbr_[0-9a-f]{16}$")


def has_signature_headers() -> bool:
    return any(
        request.headers.get(h)
        for h in (HEADER_MEMBER, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    )


def signed_path() -> str:
    """The path as the client signed it: raw request target, `?query` when present."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


def ensure_approved(member: Member) -> None:
    if member.state != MemberState.APPROVED:
        raise ApiError(
            403,
            "member_not_approved",
            f"member {member.id} is {member.state}; only approved members may do this",
        )


def authenticate_member() -> Member:
    """Check the four signature headers; return the approved Member or raise ApiError."""
    member_id = request.headers.get(HEADER_MEMBER, "")
    timestamp = request.headers.get(HEADER_TIMESTAMP, "")
    nonce = request.headers.get(HEADER_NONCE, "")
    signature = request.headers.get(HEADER_SIGNATURE, "")
    if not (member_id and timestamp and nonce and signature):
        raise ApiError(
            401,
            "missing_signature",
            "this endpoint needs a signed member request "
            f"({HEADER_MEMBER}, {HEADER_TIMESTAMP}, {HEADER_NONCE}, {HEADER_SIGNATURE})",
        )
    if not _MEMBER_ID_RE.match(member_id):
        raise ApiError(401, "unknown_member", "no such member")
    # Looked up in a short read transaction of its own: the nonce is then written in
    # a separate write transaction, which must not wait on a lock this request holds.
    with db.side_session(write=False) as lookup:
        found = lookup.get(Member, member_id)
        public_key, state = (found.public_key, found.state) if found else (None, None)
    if public_key is None:
        raise ApiError(401, "unknown_member", "no such member")
    if not _TIMESTAMP_RE.match(timestamp) or not _NONCE_RE.match(nonce):
        raise ApiError(401, "bad_signature", "malformed timestamp or nonce header")
    _verify_signature(public_key, signature, member_id, timestamp, nonce)

    cfg = get_config()
    now = utcnow()
    skew = int(timestamp) - int(now.timestamp())
    if abs(skew) > cfg.clock_window_s:
        raise ApiError(
            401,
            "stale_timestamp",
            f"timestamp is {skew:+d} s from the hub clock; allowed ±{cfg.clock_window_s} s",
        )
    # Burnt before the approval check: a request refused as `member_not_approved`
    # must not replay once the member is reinstated.
    _remember_nonce(member_id, nonce, now, cfg.nonce_retention_s)
    if state != MemberState.APPROVED:
        raise ApiError(
            403,
            "member_not_approved",
            f"member {member_id} is {state}; only approved members may do this",
        )
    member = db.session().get(Member, member_id)
    if member is None:  # deleted between the two transactions
        raise ApiError(401, "unknown_member", "no such member")
    ensure_approved(member)
    return member


def _verify_signature(
    public_key: str, signature: str, member_id: str, timestamp: str, nonce: str
) -> None:
    """Check the V2 signature (it covers `Idempotency-Key`); name an outdated V1 client.

    The V1 message is only tried after V2 failed, and only to choose the error:
    a V1 signature never authenticates, since it does not bind the
    `Idempotency-Key` an on-path proxy could swap (issue 14).
    """
    body = request.get_data(cache=True)
    idempotency_key = request.headers.get(HEADER_IDEMPOTENCY)
    path = signed_path()
    try:
        sig = b64decode(signature, length=ED25519_SIGNATURE_LEN)
        key = load_ed25519_public_key(public_key)
    except ValueError:
        raise ApiError(401, "bad_signature", "the request signature is malformed") from None
    try:
        key.verify(sig, request_signing_bytes(
            request.method, path, timestamp, nonce, body, member_id, idempotency_key))
        return
    except InvalidSignature:
        pass
    try:
        key.verify(sig, request_signing_bytes(
            request.method, path, timestamp, nonce, body, member_id,
            domain=LEGACY_SIGNING_DOMAIN))
    except InvalidSignature:
        raise ApiError(
            401, "bad_signature",
            "the request signature does not verify: it covers the method, path, timestamp, "
            f"nonce, body and the {HEADER_IDEMPOTENCY} header, so a request changed on the way "
            "(or an added, removed or altered header) is refused",
        ) from None
    raise ApiError(
        401, "signature_scheme_outdated",
        "signed with scheme LIANFANG-REQUEST-V1, which does not cover the "
        f"{HEADER_IDEMPOTENCY} header; upgrade the SDK (scheme V2, docs/FORMATS.md)",
    )


def _remember_nonce(member_id: str, nonce: str, now: Any, retention_s: int) -> None:
    try:
        with db.side_session() as side:
            side.execute(
                delete(SeenNonce).where(
                    SeenNonce.seen_at < now - timedelta(seconds=max(retention_s, 1))
                )
            )
            side.add(SeenNonce(member_id=member_id, nonce=nonce, seen_at=now))
            side.flush()
    except IntegrityError:
        raise ApiError(401, "nonce_reused", "this nonce was already used; sign afresh") from None


def refuse_reader_token() -> None:
    """A live reader token on a members-only endpoint is out of scope: 403, not 401.

    The token is valid, so "unauthenticated" would be wrong; an unknown or
    revoked token stays a 401 from the lookup.
    """
    token = bearer_token()
    if token is None or has_signature_headers():
        return
    reader_token_lookup(db.session(), token)
    raise ApiError(403, "reader_scope",
                   "reader tokens read the phone feeds only; send a signed member request")


def require_member(fn: F) -> F:
    """Decorator: the request must be signed by an approved member; sets `g.member`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refuse_reader_token()
        g.member = authenticate_member()
        g.reader_token = None
        check_member(g.member.id)
        return fn(*args, **kwargs)

    return cast(F, wrapper)
