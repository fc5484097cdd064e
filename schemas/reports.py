"""Wire schemas for reports, retractions, cases, disputes and listings (docs/ARCHITECTURE.md §4).

Shared by the hub (validation) and the SDK (building requests), so both agree
on limits. Values are only ever *hashed* indicators: a raw-looking value is
refused with a message telling the member to hash it (docs/ARCHITECTURE.md §2). Whether a
`key_epoch` is current is a database question the hub answers after loading.

Batch endpoints validate each item on its own (`ReportSchema().load(item)`), so
one bad report does not sink ten thousand good ones; the batch schemas below
only check the envelope.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from schemas.enums import Category, DisputeState, IndicatorKind, ReportState
from schemas.indicators import HASHED_VALUE_PATTERN, InvalidIndicator, check_hashed_value
from schemas.limits import MAX_PAGE_OFFSET, MAX_PAGE_SIZE
from schemas.timefmt import format_time, parse_time, utcnow

MAX_BATCH_REPORTS = 10_000
MAX_RETRACT_ITEMS = 10_000
MAX_LOOKUP_VALUES = 10_000
"""Values per `POST /v1/indicators/lookup` (each counts against the lookup budget)."""
MAX_BODY_BYTES = 8 * 1024 * 1024
MIN_CASE_INDICATORS = 2
MAX_CASE_INDICATORS = 500
DEFAULT_REPORT_LIFETIME = timedelta(days=180)
MAX_REPORT_LIFETIME = timedelta(days=730)
CLOCK_SLACK = timedelta(seconds=300)
MAX_CASE_REF = 64

KINDS = [k.value for k in IndicatorKind]
CATEGORIES = [c.value for c in Category]
RESOLUTIONS = ["uphold", "delist"]


class WireTime(fields.Field):
    """RFC 3339 UTC with `Z` and whole seconds (schemas.timefmt), nothing else."""

    default_error_messages = {"invalid": "Not a timestamp of the form YYYY-MM-DDTHH:MM:SSZ."}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_time(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_time(value)
        except (TypeError, ValueError) as exc:
            raise self.make_error("invalid") from exc


def _kind_field() -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(KINDS))


def _value_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=128))


def check_value(kind: Any, value: Any) -> str:
    """The hashed-form check for one (kind, value); raises ValidationError on `value`."""
    if kind not in KINDS or not isinstance(value, str):
        return value  # the field validators already report these
    try:
        checked = check_hashed_value(kind, value)
    except InvalidIndicator as exc:
        raise ValidationError(str(exc), field_name="value") from exc
    return checked if isinstance(checked, str) else value


class IndicatorRefSchema(Schema):
    """A hashed indicator: `kind` plus its 64-hex (or 16-hex SimHash) `value`."""

    kind = _kind_field()
    value = _value_field()

    @validates_schema
    def _hashed(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_value(data.get("kind"), data.get("value"))


class ReportSchema(IndicatorRefSchema):
    """One report (docs/ARCHITECTURE.md §4). Loads to a dict with datetimes and defaults filled."""

    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    confidence = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))
    first_seen = WireTime(load_default=None)
    last_seen = WireTime(load_default=None)
    expires_at = WireTime(load_default=None)
    key_epoch = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    case_ref = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_CASE_REF)
    )

    @validates_schema
    def _times(self, data: dict[str, Any], **kwargs: Any) -> None:
        now = utcnow()
        last_seen = data.get("last_seen") or now
        first_seen = data.get("first_seen") or last_seen
        if last_seen > now + CLOCK_SLACK:
            raise ValidationError("Must not be in the future.", field_name="last_seen")
        if first_seen > last_seen:
            raise ValidationError("Must not be after last_seen.", field_name="first_seen")
        expires_at = data.get("expires_at")
        if expires_at is not None:
            if expires_at <= last_seen:
                raise ValidationError("Must be after last_seen.", field_name="expires_at")
            if expires_at > now + MAX_REPORT_LIFETIME:
                raise ValidationError("Must be at most 730 days ahead.", field_name="expires_at")

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["last_seen"] = data["last_seen"] or utcnow()
        data["first_seen"] = data["first_seen"] or data["last_seen"]
        data["expires_at"] = data["expires_at"] or data["last_seen"] + DEFAULT_REPORT_LIFETIME
        return data


_REPORT_KEYS = frozenset(
    ("kind", "value", "category", "confidence", "first_seen", "last_seen", "expires_at",
     "key_epoch", "case_ref")
)
_REQUIRED_KEYS = frozenset(("kind", "value", "category", "confidence", "key_epoch"))
_CATEGORY_SET = frozenset(CATEGORIES)
_PATTERNS = {kind.value: pattern for kind, pattern in HASHED_VALUE_PATTERN.items()}


def _fast_time(item: dict[str, Any], name: str) -> datetime | None | bool:
    raw = item.get(name)
    if raw is None:
        return None if name not in item else False  # explicit null: let marshmallow answer
    try:
        return parse_time(raw)
    except (TypeError, ValueError):
        return False


def fast_load_report(item: Any, now: datetime) -> dict[str, Any] | None:
    """`ReportSchema().load(item)` for a plainly well-formed item, else None.

    Ingest runs this first and falls back to the schema (which produces the
    error messages) whenever it returns None, so it only ever *accepts*, and only
    what the schema would accept with the same result (a Hypothesis test checks
    that). It exists because schema loading costs ~20 µs a report and a batch
    holds up to 10,000 of them.
    """
    if type(item) is not dict or not _REQUIRED_KEYS <= item.keys() <= _REPORT_KEYS:
        return None
    kind, value, category = item["kind"], item["value"], item["category"]
    confidence, epoch = item["confidence"], item["key_epoch"]
    pattern = _PATTERNS.get(kind) if type(kind) is str else None
    if (
        pattern is None
        or type(value) is not str
        or not pattern.fullmatch(value)
        or type(category) is not str
        or category not in _CATEGORY_SET
        or type(confidence) is not int
        or not 1 <= confidence <= 100
        or type(epoch) is not int
        or epoch < 1
    ):
        return None
    case_ref = item.get("case_ref")
    if case_ref is not None and (type(case_ref) is not str or not 1 <= len(case_ref) <= 64):
        return None
    first_seen, last_seen, expires_at = (
        _fast_time(item, "first_seen"),
        _fast_time(item, "last_seen"),
        _fast_time(item, "expires_at"),
    )
    if first_seen is False or last_seen is False or expires_at is False:
        return None
    last = last_seen or now
    first = first_seen or last
    if last > now + CLOCK_SLACK or first > last:
        return None
    if expires_at is not None and (expires_at <= last or expires_at > now + MAX_REPORT_LIFETIME):
        return None
    return {
        "kind": kind,
        "value": value,
        "category": category,
        "confidence": confidence,
        "first_seen": first,
        "last_seen": last,
        "expires_at": expires_at or last + DEFAULT_REPORT_LIFETIME,
        "key_epoch": epoch,
        "case_ref": case_ref,
    }


class ReportBatchSchema(Schema):
    """The envelope of `POST /v1/reports`; items are validated one by one."""

    reports = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH_REPORTS),
    )


class LookupBatchSchema(Schema):
    """The envelope of `POST /v1/indicators/lookup`: `{kind, value}` items, validated one
    by one (`IndicatorRefSchema`) so one malformed value answers 422 for itself only."""

    items = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(min=1, max=MAX_LOOKUP_VALUES),
    )


class RetractItemSchema(IndicatorRefSchema):
    """Withdraw the member's own report(s) on an indicator (one category, or all)."""

    category = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(CATEGORIES)
    )


class RetractSchema(Schema):
    items = fields.List(
        fields.Nested(RetractItemSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_RETRACT_ITEMS),
    )


class CaseSchema(Schema):
    """Indicators seen together in one complaint episode (docs/ARCHITECTURE.md §4, cases)."""

    case_ref = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_CASE_REF)
    )
    category = fields.String(
        load_default=Category.MALICIOUS_COMPLAINT.value,
        validate=validate.Equal(
            Category.MALICIOUS_COMPLAINT.value, error="Cases are malicious_complaint only."
        ),
    )
    indicators = fields.List(
        fields.Nested(IndicatorRefSchema),
        required=True,
        validate=validate.Length(min=MIN_CASE_INDICATORS, max=MAX_CASE_INDICATORS),
    )
    key_epoch = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    observed_at = WireTime(required=True)

    @validates_schema
    def _not_future(self, data: dict[str, Any], **kwargs: Any) -> None:
        observed = data.get("observed_at")
        if observed is not None and observed > utcnow() + CLOCK_SLACK:
            raise ValidationError("Must not be in the future.", field_name="observed_at")


class DisputeSchema(IndicatorRefSchema):
    reason = fields.String(required=True, validate=validate.Length(min=10, max=2000))
    evidence = fields.String(load_default="", validate=validate.Length(max=4000))


class DisputeResolutionSchema(Schema):
    resolution = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class AllowlistAddSchema(Schema):
    """Admin allowlist entry: a hashed `kind`+`value`+`key_epoch`, or a `raw_number`.

    A raw number is normalised and hashed by the hub with the current consortium
    key and then discarded: it is never stored or logged.
    """

    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    value = fields.String(load_default=None, validate=validate.Length(min=1, max=128))
    key_epoch = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1))
    raw_number = fields.String(load_default=None, validate=validate.Length(min=3, max=40))
    region = fields.String(load_default="CN", validate=validate.Length(equal=2))
    note = fields.String(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def _one_form(self, data: dict[str, Any], **kwargs: Any) -> None:
        raw = data.get("raw_number")
        hashed = data.get("value") is not None or data.get("kind") is not None
        if raw is not None and hashed:
            raise ValidationError(
                "Give raw_number or kind+value, not both.", field_name="raw_number"
            )
        if raw is None:
            errors: dict[str, list[str]] = {}
            for name in ("kind", "value", "key_epoch"):
                if data.get(name) is None:
                    errors[name] = ["Missing data for required field (or give raw_number)."]
            if errors:
                raise ValidationError(errors)
            check_value(data["kind"], data["value"])


class ConflictDecisionSchema(Schema):
    """An admin's answer to a consensus-allowlist conflict (`keep` the block/warn, or
    `allow` the number with an admin entry)."""

    decision = fields.String(required=True, validate=validate.OneOf(["keep", "allow"]))
    note = fields.String(load_default="", validate=validate.Length(max=500))


class GroupActionSchema(Schema):
    """An admin's correction of a complaint group: always with a reason (audited)."""

    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class GroupRemoveIndicatorSchema(IndicatorRefSchema):
    """Take one indicator out of complaint groups (it links nothing from now on)."""

    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class GroupSplitSchema(GroupActionSchema):
    """Separate these indicators of a group from the rest of it for good."""

    indicators = fields.List(
        fields.Nested(IndicatorRefSchema), required=True,
        validate=validate.Length(min=1, max=MAX_CASE_INDICATORS),
    )


class ListingSchema(Schema):
    """The merged view of one indicator a member may see: never which members reported it."""

    kind = fields.String()
    value = fields.String()
    key_epoch = fields.Integer()
    tier = fields.String()
    score = fields.Float()
    categories = fields.List(fields.String())
    reporter_count = fields.Integer()
    allowlisted = fields.Boolean()
    allow_source = fields.String(allow_none=True)
    held = fields.Boolean()
    first_seen = WireTime(allow_none=True)
    last_seen = WireTime(allow_none=True)
    updated_at = WireTime(allow_none=True)


__all__ = [
    "MAX_BATCH_REPORTS",
    "MAX_BODY_BYTES",
    "AllowlistAddSchema",
    "CaseSchema",
    "DisputeResolutionSchema",
    "DisputeSchema",
    "IndicatorRefSchema",
    "ListingSchema",
    "LookupBatchSchema",
    "ReportBatchSchema",
    "ReportSchema",
    "RetractSchema",
    "WireTime",
    "check_value",
]


class PageQuerySchema(Schema):
    """`?limit=&offset=` on admin lists."""

    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE_SIZE))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_PAGE_OFFSET))


class MemberReportListQuerySchema(PageQuerySchema):
    """`GET /v1/reports`: the calling member's own reports, optionally by state."""

    state = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in ReportState])
    )


class DisputeListQuerySchema(PageQuerySchema):
    state = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in DisputeState])
    )


MEMBER_DISPUTE_RECEIVED = "received"
"""What a member sees of its own undecided dispute, `open` or `pending` alike: which of
the two it is would tell whether another member already disputes the value."""


MEMBER_DISPUTE_STATES = [MEMBER_DISPUTE_RECEIVED] + [
    s.value for s in DisputeState if s not in (DisputeState.OPEN, DisputeState.PENDING)]
"""The states a member's own disputes are shown in."""


class MemberDisputeListQuerySchema(PageQuerySchema):
    state = fields.String(load_default=None, validate=validate.OneOf(MEMBER_DISPUTE_STATES))


IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"

BATCH_ID_PATTERN = r"^b_[0-9a-f]{20}$"
BATCH_STATES = ("accepted", "merged")


class BatchRefSchema(Schema):
    """`GET /v1/batches/<batch_id>`: the id `POST /v1/reports` answered with."""

    batch_id = fields.String(
        required=True, validate=validate.Regexp(BATCH_ID_PATTERN, error="not a batch id")
    )


class BatchStateSchema(Schema):
    """A member's own batch: `accepted` (stored, merge pending) → `merged` (`merged_at`)."""

    batch_id = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(BATCH_STATES))
    accepted = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    created_at = fields.Function(lambda v: format_time(v["created_at"]), required=True)
    merged_at = fields.Function(
        lambda v: format_time(v["merged_at"]) if v["merged_at"] is not None else None
    )
