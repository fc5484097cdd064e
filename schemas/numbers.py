"""Wire schemas for verified institution numbers (号码认证, issue 16).

Shared by the hub and the SDK. The number itself is raw here — it is the member's
own public business number — and the hub normalises, seals and hashes it; it is
never stored in the clear nor logged (hub/services/verified_numbers.py).
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from schemas.limits import MAX_PAGE_OFFSET, MAX_PAGE_SIZE


class Purpose(StrEnum):
    """What an institution uses a registered number for (shown beside its name)."""

    CUSTOMER_SERVICE = "customer_service"
    COLLECTION = "collection"
    MARKETING = "marketing"
    NOTIFICATION = "notification"
    OTHER = "other"


PURPOSE_LABELS_ZH: dict[str, str] = {
    Purpose.CUSTOMER_SERVICE: "客户服务",
    Purpose.COLLECTION: "催收",
    Purpose.MARKETING: "营销",
    Purpose.NOTIFICATION: "通知",
    Purpose.OTHER: "其他",
}
"""How a screener or the console shows a purpose, e.g. `中国工商银行 客户服务`."""


class NumberState(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"


class Decision(StrEnum):
    """An admin's step on a registration: `verify`/`reject` a pending one, `revoke` a
    verified one."""

    VERIFY = "verify"
    REJECT = "reject"
    REVOKE = "revoke"


def _display_name(value: str) -> None:
    if any(unicodedata.category(c)[0] == "C" for c in value):
        raise ValidationError("Control or unassigned characters are not allowed.")
    if not value.strip():
        raise ValidationError("Must not be blank.")


MAX_DISPLAY_NAME = 64


class NumberRegistrationSchema(Schema):
    """`POST /v1/numbers`: a member registers a number it calls from or answers on."""

    raw_number = fields.String(required=True, validate=validate.Length(min=3, max=40))
    region = fields.String(load_default="CN", validate=validate.Length(equal=2))
    display_name = fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_DISPLAY_NAME), _display_name]
    )
    purpose = fields.String(required=True, validate=validate.OneOf([p.value for p in Purpose]))

    @post_load
    def _clean(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """NFKC and collapsed spaces, checked again: NFKC can lengthen (`㍿` → `株式会社`)."""
        name = " ".join(unicodedata.normalize("NFKC", data["display_name"]).split())
        if len(name) > MAX_DISPLAY_NAME:
            raise ValidationError(f"Longer than {MAX_DISPLAY_NAME} characters once normalised.",
                                  field_name="display_name")
        data["display_name"] = name
        return data


class NumberDecisionSchema(Schema):
    """`POST /v1/admin/verified-numbers/<id>`: an admin's decision, always with a note."""

    decision = fields.String(required=True, validate=validate.OneOf([d.value for d in Decision]))
    note = fields.String(required=True, validate=validate.Length(min=3, max=500))


class NumberListQuerySchema(Schema):
    """`?state=&limit=&offset=` on both lists of registrations."""

    state = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in NumberState])
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE_SIZE))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_PAGE_OFFSET))
