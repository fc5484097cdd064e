"""Marshmallow schemas of the `/v1` *answers*, for the OpenAPI description only.

Request bodies are described by the schemas the views really load with
(`schemas/membership.py`, `schemas/reports.py`). Most answers are built as
dicts by the services, so their shapes are written down here; the contract
fuzzer (tests/hub/test_fuzz_contract.py) checks every answer against them, so a
service that changes its output without this file fails a test.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.membership import MemberSchema
from schemas.reports import ListingSchema

_TIME = {"format": "date-time"}


def _time(*, allow_none: bool = False) -> fields.String:
    return fields.String(required=not allow_none, allow_none=allow_none, metadata=_TIME)


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", required=True, allow_none=True)
    details = fields.Dict(
        metadata={"description": "present on some errors: e.g. `quota_exceeded` names the "
                  "quota, `limit`, `used`, `requested` and `resets_at`"})


class ErrorSchema(Schema):
    """`{"error": {code, message, fields}}`: every non-2xx answer of `/v1`."""

    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


class ApplicationCreatedSchema(Schema):
    id = fields.String(required=True)
    state = fields.String(required=True)
    key_id = fields.String(required=True)


class AdminSessionSchema(Schema):
    token = fields.String(required=True)
    expires_at = _time()
    username = fields.String(required=True)


class MemberPageSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class MemberSelfSchema(MemberSchema):
    """`GET /v1/members/me`: the member record plus what `lianfang whoami` shows."""

    weight = fields.Float(required=True, metadata={
        "description": "merge weight of the member's reports now (0 unless approved)"})
    dispute_weight = fields.Float(required=True, metadata={
        "description": "scales the member's open-dispute cap (halved per dismissed dispute)"})
    key_fingerprint = fields.String(required=True, metadata={
        "description": "the fingerprint the console shows, e.g. 3f2a:91c0:77de:0b14"})


class ReaderTokenSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True, allow_none=True)
    scope = fields.String(required=True, metadata={
        "description": "`reader` (a screener's `lfr_` token) or `taxii` (an `lft_` token "
                       "that reads /taxii2/ only)"})
    created_at = _time()
    revoked_at = _time(allow_none=True)


class ReaderTokenMintedSchema(ReaderTokenSchema):
    token = fields.String(required=True, metadata={"description": "shown once: store it"})


class ReaderTokenListSchema(Schema):
    items = fields.List(fields.Nested(ReaderTokenSchema), required=True)


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    created_at = _time()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(required=True, metadata={
        "description": "shown once: the HMAC-SHA256 key that verifies this webhook's events"})


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema), required=True)


class WebhookDeliverySchema(Schema):
    id = fields.Integer(required=True)
    webhook_id = fields.String(required=True)
    event = fields.String(required=True, metadata={
        "description": "listing.tier_changed, dispute.decided or member.weight_changed"})
    state = fields.String(required=True, metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer(required=True)
    last_status = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = _time()
    next_attempt_at = _time(allow_none=True)
    delivered_at = _time(allow_none=True)


class WebhookDeliveryListSchema(Schema):
    items = fields.List(fields.Nested(WebhookDeliverySchema), required=True)


class ConsortiumKeyEntrySchema(Schema):
    epoch = fields.Integer(required=True)
    scheme = fields.String(required=True, metadata={"description": "how `key` hashes phones"})
    key = fields.String(required=True, metadata={"description": "phone key, base64 of 32 bytes"})
    identity_key = fields.String(metadata={
        "description": "identity key, base64 of 32 bytes; signed members only"})
    state = fields.String(required=True)
    created_at = _time()
    retires_at = fields.String(metadata=_TIME)


class ConsortiumKeySchema(Schema):
    current_epoch = fields.Integer(required=True)
    audience = fields.String(required=True, metadata={"description": "`reader` or `member`"})
    keys = fields.List(fields.Nested(ConsortiumKeyEntrySchema), required=True)


_B64_ELEMENT = {"description": "base64 of a 32-byte ristretto255 element"}


class OprfEvaluateDocSchema(Schema):
    """The documented shape of `schemas.oprf_wire.OprfEvaluateSchema` (elements as strings)."""

    epoch = fields.Integer(allow_none=True, metadata={
        "description": "optional: must be the current epoch (409 otherwise)"})
    elements = fields.List(fields.String(metadata=_B64_ELEMENT), required=True, metadata={
        "description": "blinded elements: 1-64 with a reader token, 1-10,000 signed"})


class OprfEvaluateAnswerSchema(Schema):
    epoch = fields.Integer(required=True)
    public_key = fields.String(required=True, metadata=_B64_ELEMENT)
    evaluated = fields.List(fields.String(metadata=_B64_ELEMENT), required=True)
    proof = fields.String(required=True, metadata={
        "description": "base64 of the 64-byte batched DLEQ proof (c || s)"})


class OprfKeyEntrySchema(Schema):
    epoch = fields.Integer(required=True)
    public_key = fields.String(required=True, metadata=_B64_ELEMENT)
    state = fields.String(required=True)
    created_at = _time()


class OprfKeysSchema(Schema):
    suite = fields.String(required=True)
    mode = fields.String(required=True)
    current_epoch = fields.Integer(required=True)
    keys = fields.List(fields.Nested(OprfKeyEntrySchema), required=True)


class ReportAnswerSchema(Schema):
    batch_id = fields.String(required=True)
    state = fields.String(required=True, metadata={
        "description": "`accepted`: stored durably, the merge is pending "
                       "(`GET /v1/batches/{batch_id}` turns `merged`)"})
    accepted = fields.Integer(required=True)
    errors = fields.List(fields.Dict(), required=True)
    merge = fields.String(required=True)


class RetractAnswerSchema(Schema):
    retracted = fields.Integer(required=True)
    not_found = fields.List(fields.Integer(), required=True)


class CaseAnswerSchema(Schema):
    """The member's own case only: nothing about groups or other members' data."""

    case_id = fields.Integer(required=True)
    state = fields.String(required=True)
    indicators = fields.Integer(required=True)


class CaseRetractAnswerSchema(Schema):
    case_id = fields.Integer(required=True)
    state = fields.String(required=True)


class DisputeReceiptSchema(Schema):
    """A member's dispute, received for review: the same shape whatever the hub knows."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    value = fields.String(required=True)
    state = fields.String(required=True)
    reason = fields.String(required=True)
    evidence = fields.String(required=True)
    created_at = _time()


class GroupCorrectionSchema(Schema):
    group_id = fields.String(required=True)
    groups = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)
    cases_dismissed = fields.Integer()


class DisputeViewSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    value = fields.String(required=True)
    state = fields.String(required=True)
    reason = fields.String(required=True)
    evidence = fields.String(required=True)
    opened_by = fields.String(required=True)
    resolution_reason = fields.String(required=True, allow_none=True)
    resolved_by = fields.String(required=True, allow_none=True)
    created_at = _time()
    resolved_at = _time(allow_none=True)


class LookupResultSchema(Schema):
    """One value's answer: `status` is what the single lookup would have answered."""

    index = fields.Integer(required=True)
    status = fields.Integer(required=True, metadata={"enum": [200, 404, 422]})
    kind = fields.String(metadata={"description": "absent when the item did not validate"})
    value = fields.String(metadata={"description": "absent when the item did not validate"})
    listing = fields.Nested(ListingSchema, metadata={"description": "when status is 200"})
    error = fields.Nested(ErrorBodySchema, metadata={"description": "when status is 404/422"})


class LookupAnswerSchema(Schema):
    count = fields.Integer(required=True)
    found = fields.Integer(required=True)
    invalid = fields.Integer(required=True)
    results = fields.List(fields.Nested(LookupResultSchema), required=True)


class OwnReportSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    value = fields.String(required=True)
    key_epoch = fields.Integer(required=True)
    category = fields.String(required=True)
    confidence = fields.Integer(required=True)
    state = fields.String(required=True)
    case_ref = fields.String(required=True, allow_none=True)
    first_seen = _time()
    last_seen = _time()
    expires_at = _time()
    updated_at = _time()


class _Page(Schema):
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class DisputePageSchema(_Page):
    items = fields.List(fields.Nested(DisputeViewSchema), required=True)


class OwnReportPageSchema(_Page):
    items = fields.List(fields.Nested(OwnReportSchema), required=True)


class ItemPageSchema(_Page):
    """Admin list pages (allowlist, conflicts, groups): items are flat records."""

    items = fields.List(fields.Dict(), required=True)


class NumberViewSchema(Schema):
    """A registered institution number (号码认证) as its member and the admin see it."""

    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "canonical form"})
    value = fields.String(required=True, metadata={"description": "hash, current epoch"})
    key_epoch = fields.Integer(required=True)
    display_name = fields.String(required=True)
    purpose = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "e.g. 中国工商银行 客户服务"})
    state = fields.String(required=True)
    note = fields.String(required=True)
    created_at = _time()
    decided_at = _time(allow_none=True)
    member_id = fields.String(metadata={"description": "admin list only"})
    member_name = fields.String(metadata={"description": "admin list only"})


class NumberReputationItemSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    label = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    reporters = fields.String(required=True, metadata={
        "description": "distinct reporting institutions: 0, 1, 2, 3-5, 6-10 or >10"})
    first_reported = fields.String(required=True, allow_none=True,
                                   metadata={"description": "YYYY-MM"})
    last_reported = fields.String(required=True, allow_none=True,
                                  metadata={"description": "YYYY-MM"})


class NumberReputationSchema(Schema):
    items = fields.List(fields.Nested(NumberReputationItemSchema), required=True)


class NumberPageSchema(_Page):
    items = fields.List(fields.Nested(NumberViewSchema), required=True)


class AllowlistAnswerSchema(Schema):
    kind = fields.String(required=True)
    value = fields.String(required=True)
    key_epoch = fields.Integer(required=True)
    created = fields.Boolean(required=True)


class FeedSummarySchema(Schema):
    feed = fields.String(required=True)
    version = fields.Integer(required=True)
    entry_count = fields.Integer(required=True)
    updated_at = _time(allow_none=True)
    manifest_url = fields.String(required=True)


class FeedListSchema(Schema):
    feeds = fields.List(fields.Nested(FeedSummarySchema), required=True)


class SignatureSchema(Schema):
    keyid = fields.String(required=True)
    sig = fields.String(required=True)


class EnvelopeSchema(Schema):
    """A signed document (docs/FORMATS.md): canonical JSON of `signed` + signatures."""

    signed = fields.Dict(required=True)
    signatures = fields.List(fields.Nested(SignatureSchema), required=True)


class MemberActionAnswerSchema(MemberSchema):
    """The member after the action; `rotated_epoch` when a revoke also rotated the keys."""

    rotated_epoch = fields.Integer()


class ChainRowSchema(Schema):
    seq = fields.Integer(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class AuditHeadSchema(Schema):
    seq = fields.Integer(required=True)
    hash = fields.String(required=True)


class ChainProofSchema(Schema):
    """`GET /v1/audit/chain`: hash-only rows (no actor, subject or details) and the head."""

    rows = fields.List(fields.Nested(ChainRowSchema), required=True)
    head = fields.Nested(AuditHeadSchema, required=True)


class BuildResultSchema(Schema):
    busy = fields.Boolean(required=True)
    published = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    refreshed = fields.List(fields.String(), required=True)
    refused = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True,
        metadata={"description": "feeds held at their version: the entries the refused "
                  "version would have had (above `LIANFANG_FEED_MAX_ENTRIES`)"})


__all__ = [
    "AdminSessionSchema",
    "AllowlistAnswerSchema",
    "ApplicationCreatedSchema",
    "BuildResultSchema",
    "CaseAnswerSchema",
    "CaseRetractAnswerSchema",
    "DisputeReceiptSchema",
    "GroupCorrectionSchema",
    "ConsortiumKeySchema",
    "DisputePageSchema",
    "DisputeViewSchema",
    "EnvelopeSchema",
    "ErrorSchema",
    "FeedListSchema",
    "HealthSchema",
    "ItemPageSchema",
    "ListingSchema",
    "MemberPageSchema",
    "MemberSchema",
    "NumberPageSchema",
    "NumberReputationSchema",
    "NumberViewSchema",
    "ReaderTokenListSchema",
    "ReaderTokenMintedSchema",
    "ReaderTokenSchema",
    "ReportAnswerSchema",
    "RetractAnswerSchema",
    "WebhookCreatedSchema",
    "WebhookDeliveryListSchema",
    "WebhookDeliverySchema",
    "WebhookListSchema",
    "WebhookSchema",
]
