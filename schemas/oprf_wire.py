"""The wire format of `POST /v1/oprf/evaluate` and `GET /v1/oprf/keys` (issue 20).

Shared by hub and SDK: the request schema decodes and validates every blinded
element here (canonical ristretto255 encoding, not the identity), so a malformed
point is a 422 naming `elements.<i>`, never an exception deeper down.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from schemas.keys import b64decode
from schemas.oprf import ELEMENT_BYTES, OprfError, deserialize_element

MAX_READER_ELEMENTS = 64
"""Elements per request with a reader token: one incoming call, or a screener's
contacts pre-evaluated in small batches. Each element counts against the token's
daily quota (`LIANFANG_RATELIMIT_OPRF_READER`)."""

MAX_MEMBER_ELEMENTS = 10_000
"""Elements per request with a member signature (a bank's report batch); each
counts against the member's daily quota (`LIANFANG_RATELIMIT_OPRF_MEMBER`)."""


class BlindedElement(fields.Field):
    """A base64 ristretto255 element, validated as RFC 9497 §3.3 requires."""

    default_error_messages = {
        "invalid": "Not a base64 ristretto255 element of 32 bytes.",
        "point": "Not a valid ristretto255 element ({reason}).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str) or len(value) > 64:
            raise self.make_error("invalid")
        try:
            raw = b64decode(value, length=ELEMENT_BYTES)
        except ValueError:
            raise self.make_error("invalid") from None
        try:
            return deserialize_element(raw, "blinded element")
        except OprfError as exc:
            raise ValidationError(
                self.error_messages["point"].format(reason=type(exc).__name__)) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("request-only field")


class OprfEvaluateSchema(Schema):
    """`{"elements": [b64, …], "epoch": n?}`; the per-caller bound is checked by the view.

    `epoch`, when given, must be the current one (409 otherwise): a client that
    pinned an epoch never gets values of another one by surprise.
    """

    epoch = fields.Integer(load_default=None, allow_none=True, strict=True,
                           validate=validate.Range(min=1, max=2**31 - 1))

    elements = fields.List(
        BlindedElement(), required=True,
        validate=validate.Length(min=1, max=MAX_MEMBER_ELEMENTS),
    )
