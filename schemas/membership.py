"""Membership wire schemas (docs/ARCHITECTURE.md §3): applications, admin actions, reader tokens.

Strings are bounded to their database columns and control characters are
refused, so odd input is a 422 naming the field and never a database error.
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from marshmallow import Schema, ValidationError, fields, validate

from schemas.enums import MemberKind, MemberState
from schemas.keys import ED25519_PUBLIC_KEY_LEN, ED25519_SIGNATURE_LEN, b64decode

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def no_control_chars(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("must not contain control characters")


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


def _text(max_len: int, *, required: bool = True, **kwargs: Any) -> fields.String:
    return fields.String(
        required=required,
        validate=[validate.Length(min=1, max=max_len), no_control_chars, not_blank],
        **kwargs,
    )


def load_ed25519_public_key(text: str) -> Ed25519PublicKey:
    """Decode and load a base64 Ed25519 public key; ValidationError when it is not one."""
    try:
        raw = b64decode(text, length=ED25519_PUBLIC_KEY_LEN)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ValidationError(
            f"must be the base64 of a 32-byte Ed25519 public key ({exc})"
        ) from None


def _validate_public_key(text: str) -> None:
    load_ed25519_public_key(text)


class ApplicationSchema(Schema):
    """`POST /v1/applications`."""

    name = _text(200)
    kind = fields.Enum(MemberKind, by_value=True, required=True)
    registration_no = _text(64)
    contact_email = fields.Email(
        required=True, validate=[validate.Length(max=254), no_control_chars]
    )
    public_key = fields.String(
        required=True, validate=[validate.Length(max=64), _validate_public_key]
    )


def _validate_signature(text: str) -> None:
    try:
        b64decode(text, length=ED25519_SIGNATURE_LEN)
    except ValueError as exc:
        raise ValidationError(
            f"must be the base64 of a 64-byte Ed25519 signature ({exc})"
        ) from None


class KeyRotationSchema(Schema):
    """`POST /v1/members/me/key`, signed with the current key: the new key and its proof
    (its signature over `lianfang-member-key-rotation\\n` + member id)."""

    public_key = fields.String(
        required=True, validate=[validate.Length(max=64), _validate_public_key]
    )
    proof = fields.String(required=True, validate=[validate.Length(max=100), _validate_signature])


class ReasonSchema(Schema):
    """Body of reject/suspend/revoke: the reason is required and recorded in the audit log."""

    reason = _text(1000)


class RevokeSchema(ReasonSchema):
    """Body of revoke: the reason, and whether to rotate the consortium keys at once.

    A revoked member keeps every key it ever received; rotating makes the
    indicators hashed from now on unreadable to it (docs/MEMBERS.md, "Revoking").
    """

    rotate_consortium_key = fields.Boolean(load_default=False)


class OptionalReasonSchema(Schema):
    """Body of approve/reinstate: a note is optional."""

    reason = _text(1000, required=False, load_default=None, allow_none=True)


class MemberListQuerySchema(Schema):
    """`GET /v1/admin/members?state=&limit=&offset=`."""

    state = fields.Enum(MemberState, by_value=True, load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class ReaderTokenCreateSchema(Schema):
    """`POST /v1/reader-tokens`: an optional label such as the screener's host name.

    `scope` `taxii` mints a token for the member's threat-intel platform: it reads
    the TAXII collections only, and a screener's reader token cannot read TAXII.
    """

    label = _text(100, required=False, load_default=None, allow_none=True)
    scope = fields.String(load_default="reader", validate=validate.OneOf(["reader", "taxii"]))


class AdminLoginSchema(Schema):
    """`POST /v1/admin/login`."""

    username = _text(64)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class MemberSchema(Schema):
    """A member as the API shows it."""

    id = fields.String()
    name = fields.String()
    kind = fields.String()
    registration_no = fields.String()
    contact_email = fields.String()
    public_key = fields.String()
    key_id = fields.String()
    state = fields.String()
    state_reason = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    approved_at = fields.String(allow_none=True)
    reapplication_of = fields.String(
        allow_none=True,
        metadata={"description": "the most recent earlier membership with the same key or "
                  "registration number: a re-application (admins: see `identity_history`)"})
    identity_history = fields.List(
        fields.Dict(),
        metadata={"description": "admin view only: earlier memberships sharing the key or "
                  "registration number, with their state and the standing that carries over"})
