"""Random bearer tokens: minted once, stored as SHA-256, looked up by hash.

Admin session tokens are `lfa_…`, reader tokens `lfr_…`. The prefix tells the
auth layer which kind a presented token claims to be without a database hit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.admin import Admin
from hub.models.member import Member
from hub.models.tokens import AdminToken, ReaderToken
from schemas.enums import MemberState
from schemas.timefmt import format_time, utcnow

ADMIN_PREFIX = "lfa_"
READER_PREFIX = "lfr_"
TAXII_PREFIX = "lft_"
"""A member's TAXII token (`scope: taxii`): reads TAXII only, never a screener's endpoints.

It lives in `reader_tokens` with an id starting `txk_`; the raw token's prefix is
part of what is hashed, so an `lft_` token can never be presented as `lfr_`."""
SCOPE_ID_PREFIX = {"reader": "rdt_", "taxii": "txk_"}
TOKEN_RANDOM_BYTES = 32
MAX_TOKEN_LEN = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def _matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


# --- admin session tokens -------------------------------------------------------------


def issue_admin_token(session: Session, admin: Admin, ttl_s: int) -> tuple[str, datetime]:
    token = new_token(ADMIN_PREFIX)
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    session.add(
        AdminToken(
            admin_id=admin.id, token_hash=token_hash(token), created_at=now, expires_at=expires
        )
    )
    return token, expires


def admin_for_token(session: Session, token: str) -> Admin | None:
    """The admin a live (unexpired, unrevoked) `lfa_` token belongs to, else None."""
    if not token.startswith(ADMIN_PREFIX) or len(token) > MAX_TOKEN_LEN:
        return None
    row = session.scalars(
        select(AdminToken).where(AdminToken.token_hash == token_hash(token))
    ).first()
    if row is None or not _matches(token, row.token_hash):
        return None
    if row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return session.get(Admin, row.admin_id)


def revoke_admin_token(session: Session, token: str) -> bool:
    row = session.scalars(
        select(AdminToken).where(AdminToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


# --- reader tokens --------------------------------------------------------------------


TOKEN_SLOT_HOLD = timedelta(days=1)
"""A revoked token keeps its slot this long: the OPRF quota is per token per day, so
a member key churning tokens gets at most `max_tokens` fresh quotas a day."""


def mint_reader_token(
    session: Session, member: Member, label: str | None, scope: str = "reader",
    max_tokens: int | None = None,
) -> tuple[ReaderToken, str]:
    """Create a reader (or `taxii`) token for `member`; the row and the raw token (shown once).

    409 `token_limit` when the member already holds `max_tokens` (live, or revoked
    within `TOKEN_SLOT_HOLD`): the cap the threat model's enumeration bound uses.
    """
    if max_tokens is not None:
        held = session.scalar(
            select(func.count()).select_from(ReaderToken).where(
                ReaderToken.member_id == member.id,
                or_(ReaderToken.revoked_at.is_(None),
                    ReaderToken.revoked_at > utcnow() - TOKEN_SLOT_HOLD)))
        if (held or 0) >= max_tokens:
            raise ApiError(409, "token_limit",
                           f"a member holds at most {max_tokens} reader tokens (revoked ones "
                           "count for a day); revoke unused ones or ask the operator")
    token = new_token(TAXII_PREFIX if scope == "taxii" else READER_PREFIX)
    row = ReaderToken(
        id=SCOPE_ID_PREFIX[scope] + secrets.token_hex(8),
        member_id=member.id,
        token_hash=token_hash(token),
        label=label,
        created_at=utcnow(),
    )
    session.add(row)
    return row, token


def token_scope(row: ReaderToken) -> str:
    """`taxii` for a TAXII token, `reader` for a screener's reader token."""
    return "taxii" if row.id.startswith(SCOPE_ID_PREFIX["taxii"]) else "reader"


def reader_token_lookup(
    session: Session, token: str, scope: str = "reader"
) -> tuple[ReaderToken, Member]:
    """The live token of `scope` and its member, or ApiError 401/403."""
    prefix = TAXII_PREFIX if scope == "taxii" else READER_PREFIX
    if not token.startswith(prefix) or len(token) > MAX_TOKEN_LEN:
        raise ApiError(401, "invalid_token", f"the bearer token is not a valid {scope} token")
    row = session.scalars(
        select(ReaderToken).where(ReaderToken.token_hash == token_hash(token))
    ).first()
    if (row is None or row.revoked_at is not None or not _matches(token, row.token_hash)
            or token_scope(row) != scope):
        raise ApiError(401, "invalid_token", f"the {scope} token is unknown or revoked")
    member = session.get(Member, row.member_id)
    if member is None:
        raise ApiError(401, "invalid_token", "the reader token is unknown or revoked")
    if member.state != MemberState.APPROVED:
        raise ApiError(
            403,
            "member_not_approved",
            f"the member owning this token is {member.state}; its reader tokens are void",
        )
    return row, member


def list_reader_tokens(session: Session, member_id: str) -> list[ReaderToken]:
    stmt = (
        select(ReaderToken)
        .where(ReaderToken.member_id == member_id)
        .order_by(ReaderToken.created_at, ReaderToken.id)
    )
    return list(session.scalars(stmt))


def revoke_reader_token(session: Session, member_id: str, token_id: str) -> ReaderToken:
    row = session.get(ReaderToken, token_id)
    if row is None or row.member_id != member_id:
        raise ApiError(404, "not_found", f"no reader token {token_id} for this member")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def reader_token_to_dict(row: ReaderToken) -> dict[str, str | None]:
    return {
        "id": row.id,
        "label": row.label,
        "scope": token_scope(row),
        "created_at": format_time(row.created_at),
        "revoked_at": format_time(row.revoked_at) if row.revoked_at else None,
    }
