"""The OpenAPI 3 description of the hub: apispec + MarshmallowPlugin over one table.

apispec converts the marshmallow schemas (request bodies and queries are the
very schemas the views load with, answers are `hub/api/openapi_schemas.py`), so
the description cannot drift from the validation. What marshmallow does not
know — the Flask endpoint, who may call it, the success and error statuses —
sits in one row of `OPERATIONS` per endpoint.

Why apispec directly rather than flask-smorest (which is apispec plus
decorators): smorest wants every view rewritten around `@arguments` /
`@response`, which would replace `load_body` (the bounded JSON parser of
`hub.limits` and the hub's 415/422 answers) and sit beside the auth
decorators rather than use them; and it serves its own `/openapi.json` and a
CDN-loaded Swagger UI, where the hub serves a vendored, offline one.

`tests/hub/test_openapi.py` fails when a `/v1` route has no row, and
`tests/hub/test_authz_matrix.py` derives its matrix from `auth`.

Served at `GET /v1/openapi.json`; `GET /v1/docs` renders it with the vendored
Swagger UI in `hub/static/apidocs/` (no CDN).
"""

from __future__ import annotations

import enum
import gzip
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    request,
    send_from_directory,
)
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from hub.api import openapi_schemas as out
from hub.api.audit import ChainProofQuerySchema
from hub.errors import ApiError
from hub.limits import MAX_BATCH_REPORTS, MAX_PATH_INT, MAX_PATH_PARAM_CHARS
from schemas import membership as ms
from schemas import numbers as ns
from schemas import reports as rs
from schemas import webhooks as wh
from schemas.enums import Feed
from schemas.signing import HEADER_MEMBER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP

API_VERSION = "1"
_ASSETS = Path(__file__).resolve().parent.parent / "static" / "apidocs"
DOC_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "docs-init.js"})
_EXTENSION = "lianfang_openapi"


class Auth(enum.StrEnum):
    """Who may call an endpoint (the authorization matrix is generated from this)."""

    PUBLIC = "public"  # anyone
    MEMBER = "member"  # a request signed by an approved member
    READER = "reader"  # a reader token of an approved member, or a signed member request
    ADMIN = "admin"  # an admin bearer token from /v1/admin/login


class ReportBatchDocSchema(Schema):
    """`POST /v1/reports` as documented: the view loads `ReportBatchSchema` (raw items)
    and validates each item with `ReportSchema`, so one bad item does not sink the batch."""

    reports = fields.List(
        fields.Nested(rs.ReportSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH_REPORTS),
    )


class MemberActionDocSchema(ms.OptionalReasonSchema):
    """`POST /v1/admin/members/{id}/{action}` as documented: the view loads `ReasonSchema`
    (reject, suspend), `RevokeSchema` (revoke) or `OptionalReasonSchema` (the others)."""

    rotate_consortium_key = fields.Boolean(metadata={
        "description": "revoke only: start a new consortium-key epoch in the same transaction"})


@dataclass(frozen=True)
class Operation:
    """One `/v1` endpoint: the Flask endpoint it is served by and its contract."""

    method: str
    path: str  # OpenAPI template, e.g. /v1/admin/members/{member_id}
    endpoint: str  # Flask endpoint, e.g. admin_members.show_member
    auth: Auth
    summary: str
    tag: str
    ok: Mapping[int, type[Schema] | str]  # success status → answer schema, or media type
    body: type[Schema] | None = None
    body_required: bool = True
    query: type[Schema] | None = None
    errors: tuple[int, ...] = ()  # besides the ones every operation of its kind can answer
    headers: tuple[dict[str, Any], ...] = ()
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        return self.endpoint.replace(".", "_")


def _str_param(**extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM_CHARS, **extra}


_MEMBER_ID = {"member_id": _str_param()}
_KIND_VALUE = {
    "kind": {"type": "string", "enum": rs.KINDS},
    "value": _str_param(maxLength=128),
}
_FEED = {"feed": {"type": "string", "enum": [f.value for f in Feed]}}
_GROUP = {"group_id": _str_param(maxLength=24)}
_REGISTRATION = {"registration_id": {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT}}
_CONDITIONAL = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "an ETag from an earlier answer: 304 when unchanged",
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": rs.IDEMPOTENCY_KEY_PATTERN},
    "description": "same key + same body replays the stored answer; a different body is 409",
}
_JSON = "application/json"

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/healthz", "health.healthz", Auth.PUBLIC,
              "Liveness and a database round trip", "meta",
              {200: out.HealthSchema}, errors=(503,)),
    Operation("get", "/readyz", "health.readyz", Auth.PUBLIC,
              "Readiness: database, schema revision, keys, writable feed directory", "meta",
              {200: _JSON}, errors=(503,)),
    Operation("get", "/metrics", "metrics", Auth.PUBLIC,
              "Prometheus metrics (404 unless LIANFANG_METRICS_ACCESS allows the caller)",
              "meta", {200: "text/plain"}, errors=(404,)),
    Operation("get", "/v1/openapi.json", "openapi.spec", Auth.PUBLIC,
              "This OpenAPI description", "meta", {200: _JSON}),
    Operation("get", "/v1/docs", "openapi.docs", Auth.PUBLIC,
              "Human-readable API documentation (vendored Swagger UI)", "meta",
              {200: "text/html"}),
    Operation("get", "/v1/docs/assets/{name}", "openapi.asset", Auth.PUBLIC,
              "Static files of the documentation page", "meta",
              {200: "*/*"}, errors=(404,),
              path_params={"name": {"type": "string", "enum": sorted(DOC_ASSETS)}}),
    Operation("post", "/v1/applications", "applications.apply", Auth.PUBLIC,
              "Apply for membership (pending until an admin approves)", "members",
              {201: out.ApplicationCreatedSchema}, body=ms.ApplicationSchema, errors=(409,)),
    Operation("post", "/v1/admin/login", "admin_auth.admin_login", Auth.PUBLIC,
              "Admin password login: a bearer session token", "admin",
              {200: out.AdminSessionSchema}, body=ms.AdminLoginSchema, errors=(401,)),
    Operation("post", "/v1/admin/logout", "admin_auth.admin_logout", Auth.ADMIN,
              "Revoke the calling admin session token", "admin", {204: ""}),
    Operation("get", "/v1/admin/members", "admin_members.list_members", Auth.ADMIN,
              "List members, optionally by state", "admin",
              {200: out.MemberPageSchema}, query=ms.MemberListQuerySchema),
    Operation("get", "/v1/admin/members/{member_id}", "admin_members.show_member", Auth.ADMIN,
              "One member", "admin", {200: out.MemberSchema}, errors=(404,),
              path_params=_MEMBER_ID),
    Operation("post", "/v1/admin/members/{member_id}/{action}", "admin_members.act_on_member",
              Auth.ADMIN, "approve / reject / suspend / reinstate / revoke a member "
              "(reject, suspend and revoke need a reason)", "admin",
              {200: out.MemberActionAnswerSchema}, body=MemberActionDocSchema,
              body_required=False,
              errors=(404, 409),
              path_params={**_MEMBER_ID, "action": {
                  "type": "string",
                  "enum": ["approve", "reject", "suspend", "reinstate", "revoke"]}}),
    Operation("get", "/v1/members/me", "members.me", Auth.MEMBER,
              "The calling member's own record, merge weight and key fingerprint", "members",
              {200: out.MemberSelfSchema}),
    Operation("post", "/v1/members/me/key", "members.rotate_key", Auth.MEMBER,
              "Rotate the member's own key (signed with the current key; `proof` is the new "
              "key's signature over `lianfang-member-key-rotation\\n<member id>`); the "
              "member id and its standing stay", "members",
              {200: out.MemberSchema}, body=ms.KeyRotationSchema, errors=(409,)),
    Operation("post", "/v1/reader-tokens", "reader_tokens.mint", Auth.MEMBER,
              "Mint a reader token for a call screener (shown once)", "members",
              {201: out.ReaderTokenMintedSchema}, body=ms.ReaderTokenCreateSchema,
              body_required=False),
    Operation("get", "/v1/reader-tokens", "reader_tokens.list_tokens", Auth.MEMBER,
              "The member's reader tokens (never the secrets)", "members",
              {200: out.ReaderTokenListSchema}),
    Operation("delete", "/v1/reader-tokens/{token_id}", "reader_tokens.revoke", Auth.MEMBER,
              "Revoke one of the member's reader tokens", "members",
              {200: out.ReaderTokenSchema}, errors=(404,),
              path_params={"token_id": _str_param()}),
    Operation("post", "/v1/webhooks", "webhooks.register", Auth.MEMBER,
              "Register an https:// endpoint for signed events (the secret is shown once; "
              "at most 5 a member)", "members",
              {201: out.WebhookCreatedSchema}, body=wh.WebhookCreateSchema, errors=(409,)),
    Operation("get", "/v1/webhooks", "webhooks.list_webhooks", Auth.MEMBER,
              "The member's webhooks (never the secrets)", "members",
              {200: out.WebhookListSchema}),
    Operation("delete", "/v1/webhooks/{webhook_id}", "webhooks.delete", Auth.MEMBER,
              "Delete one of the member's webhooks and its queued events", "members",
              {200: out.WebhookSchema}, errors=(404,),
              path_params={"webhook_id": _str_param()}),
    Operation("get", "/v1/webhooks/{webhook_id}/deliveries", "webhooks.deliveries", Auth.MEMBER,
              "The delivery log of one webhook, newest 100 first", "members",
              {200: out.WebhookDeliveryListSchema}, errors=(404,),
              path_params={"webhook_id": _str_param()}),
    Operation("get", "/v1/consortium-key", "consortium.consortium_key", Auth.READER,
              "The HMAC keys indicators are hashed with, newest epoch first", "members",
              {200: out.ConsortiumKeySchema}, errors=(503,)),
    Operation("post", "/v1/oprf/evaluate", "oprf.evaluate", Auth.READER,
              "Evaluate blinded elements under the current OPRF epoch key (RFC 9497 VOPRF, "
              "ristretto255-SHA512) with one batched proof; each element counts against "
              "the daily quota", "members",
              {200: out.OprfEvaluateAnswerSchema}, body=out.OprfEvaluateDocSchema,
              errors=(409, 503)),
    Operation("get", "/v1/oprf/keys", "oprf.keys", Auth.READER,
              "The OPRF epochs' public keys clients verify proofs against", "members",
              {200: out.OprfKeysSchema}, errors=(503,)),
    Operation("post", "/v1/reports", "reports.submit", Auth.MEMBER,
              "Submit a batch of hashed indicator reports", "reports",
              {200: out.ReportAnswerSchema}, body=ReportBatchDocSchema, errors=(409, 429),
              headers=(_IDEMPOTENCY,)),
    Operation("get", "/v1/reports", "own_reports.list_own_reports", Auth.MEMBER,
              "The calling member's own reports (hashed values), oldest first", "reports",
              {200: out.OwnReportPageSchema}, query=rs.MemberReportListQuerySchema),
    Operation("get", "/v1/batches/{batch_id}", "batches.show_batch", Auth.MEMBER,
              "One of the member's batches: accepted → merged (merged_at)", "reports",
              {200: rs.BatchStateSchema}, errors=(404,),
              path_params={"batch_id": _str_param(pattern=rs.BATCH_ID_PATTERN)}),
    Operation("post", "/v1/reports/retract", "reports.retract", Auth.MEMBER,
              "Withdraw the member's own reports", "reports",
              {200: out.RetractAnswerSchema}, body=rs.RetractSchema),
    Operation("post", "/v1/cases", "cases.submit_case", Auth.MEMBER,
              "Indicators seen together in one complaint episode", "reports",
              {201: out.CaseAnswerSchema}, body=rs.CaseSchema, errors=(409,)),
    Operation("post", "/v1/cases/{case_id}/retract", "cases.retract_case", Auth.MEMBER,
              "Withdraw one of the member's own cases (its groups are re-derived)", "reports",
              {200: out.CaseRetractAnswerSchema}, errors=(404,),
              path_params={"case_id": {"type": "integer", "minimum": 0,
                                       "maximum": MAX_PATH_INT}}),
    Operation("post", "/v1/disputes", "disputes.open_dispute", Auth.MEMBER,
              "Dispute a listing; received for review whether or not the hub knows it",
              "disputes", {202: out.DisputeReceiptSchema}, body=rs.DisputeSchema,
              errors=(409,)),
    Operation("get", "/v1/indicators/{kind}/{value}", "indicators.show", Auth.MEMBER,
              "How the consortium sees one hashed indicator", "reports",
              {200: rs.ListingSchema}, errors=(404,), path_params=_KIND_VALUE),
    Operation("post", "/v1/indicators/lookup", "indicators.lookup", Auth.MEMBER,
              "Look up to 10,000 hashed indicators at once; counts one lookup per value "
              "against LIANFANG_RATELIMIT_MEMBER_LOOKUP", "reports",
              {200: out.LookupAnswerSchema}, body=rs.LookupBatchSchema),
    Operation("get", "/v1/disputes", "disputes.member_disputes", Auth.MEMBER,
              "The disputes the calling member opened", "disputes",
              {200: out.DisputePageSchema}, query=rs.MemberDisputeListQuerySchema),
    Operation("post", "/v1/admin/disputes", "disputes.admin_open_dispute", Auth.ADMIN,
              "Open a dispute as the association", "disputes",
              {201: out.DisputeViewSchema}, body=rs.DisputeSchema, errors=(404, 409)),
    Operation("get", "/v1/admin/disputes", "disputes.list_disputes", Auth.ADMIN,
              "List disputes", "disputes", {200: out.DisputePageSchema},
              query=rs.DisputeListQuerySchema),
    Operation("post", "/v1/admin/disputes/{dispute_id}/resolve", "disputes.resolve",
              Auth.ADMIN, "Uphold or delist", "disputes", {200: out.DisputeViewSchema},
              body=rs.DisputeResolutionSchema, errors=(404, 409),
              path_params={"dispute_id": {"type": "integer", "minimum": 0,
                                          "maximum": MAX_PATH_INT}}),
    Operation("get", "/v1/admin/allowlist", "admin_lists.list_allowlist", Auth.ADMIN,
              "Admin-verified allowlist", "lists", {200: out.ItemPageSchema},
              query=rs.PageQuerySchema),
    Operation("post", "/v1/admin/allowlist", "admin_lists.add_allowlist", Auth.ADMIN,
              "Allowlist a hashed indicator or a raw number (hashed, then discarded)",
              "lists", {200: out.AllowlistAnswerSchema, 201: out.AllowlistAnswerSchema},
              body=rs.AllowlistAddSchema, errors=(503,)),
    Operation("delete", "/v1/admin/allowlist/{kind}/{value}", "admin_lists.remove_allowlist",
              Auth.ADMIN, "Remove an admin allowlist entry", "lists", {204: ""},
              errors=(404,), path_params=_KIND_VALUE),
    Operation("get", "/v1/admin/conflicts", "admin_lists.list_conflicts", Auth.ADMIN,
              "Allowlisted indicators that members also report", "lists",
              {200: out.ItemPageSchema}, query=rs.PageQuerySchema),
    Operation("get", "/v1/admin/allowlist-conflicts", "admin_lists.list_allowlist_conflicts",
              Auth.ADMIN, "Members' legit votes against a block or warn, awaiting an admin",
              "lists", {200: out.ItemPageSchema}, query=rs.PageQuerySchema),
    Operation("post", "/v1/admin/allowlist-conflicts/{kind}/{value}",
              "admin_lists.decide_allowlist_conflict", Auth.ADMIN,
              "Keep the block/warn or allow the number (audited)", "lists", {200: _JSON},
              body=rs.ConflictDecisionSchema, errors=(404,), path_params=_KIND_VALUE),
    Operation("post", "/v1/numbers", "verified_numbers.register_number", Auth.MEMBER,
              "Register a number the member calls from or answers on (pending until an admin "
              "verifies it)", "numbers",
              {200: out.NumberViewSchema, 201: out.NumberViewSchema},
              body=ns.NumberRegistrationSchema, errors=(409,)),
    Operation("get", "/v1/numbers", "verified_numbers.own_numbers", Auth.MEMBER,
              "The calling member's registered numbers and their state", "numbers",
              {200: out.NumberPageSchema}, query=ns.NumberListQuerySchema),
    Operation("get", "/v1/numbers/reputation", "verified_numbers.own_reputation", Auth.MEMBER,
              "How other institutions report the member's verified numbers: categories, "
              "a bucketed count of reporters, first and last month (no identities)",
              "numbers", {200: out.NumberReputationSchema}),
    Operation("delete", "/v1/numbers/{registration_id}", "verified_numbers.withdraw_number",
              Auth.MEMBER, "Withdraw one of the member's registrations", "numbers", {204: ""},
              errors=(404,), path_params=_REGISTRATION),
    Operation("get", "/v1/admin/verified-numbers", "verified_numbers.list_registrations",
              Auth.ADMIN, "Number registrations with the registering member's name", "numbers",
              {200: out.NumberPageSchema}, query=ns.NumberListQuerySchema),
    Operation("post", "/v1/admin/verified-numbers/{registration_id}",
              "verified_numbers.decide_registration", Auth.ADMIN,
              "Verify, reject or revoke a registration (audited; verified numbers are "
              "allowlisted)", "numbers", {200: out.NumberViewSchema},
              body=ns.NumberDecisionSchema, errors=(404, 409), path_params=_REGISTRATION),
    Operation("get", "/v1/admin/groups", "admin_lists.list_groups", Auth.ADMIN,
              "Complaint groups, largest first", "lists", {200: out.ItemPageSchema},
              query=rs.PageQuerySchema),
    Operation("get", "/v1/admin/quotas", "admin_lists.quotas_overview", Auth.ADMIN,
              "Quotas in use per member (new indicators today, lone warn listings) and "
              "each feed's entries against LIANFANG_FEED_MAX_ENTRIES", "admin", {200: _JSON}),
    Operation("post", "/v1/admin/groups/{group_id}/remove-indicator",
              "admin_lists.remove_group_indicator", Auth.ADMIN,
              "Take an indicator out of complaint groups (audited with the reason)", "lists",
              {200: out.GroupCorrectionSchema}, body=rs.GroupRemoveIndicatorSchema,
              errors=(404,), path_params=_GROUP),
    Operation("post", "/v1/admin/groups/{group_id}/split", "admin_lists.split_group",
              Auth.ADMIN, "Split indicators off a complaint group for good (audited)",
              "lists", {200: out.GroupCorrectionSchema}, body=rs.GroupSplitSchema,
              errors=(404,), path_params=_GROUP),
    Operation("post", "/v1/admin/groups/{group_id}/dismiss", "admin_lists.dismiss_group",
              Auth.ADMIN, "Dismiss a complaint group: its cases stop counting (audited)",
              "lists", {200: out.GroupCorrectionSchema}, body=rs.GroupActionSchema,
              errors=(404,), path_params=_GROUP),
    Operation("get", "/v1/keys.json", "feeds.keys_json", Auth.PUBLIC,
              "Root-signed feed keyset", "feeds", {200: out.EnvelopeSchema},
              errors=(304, 503), headers=(_CONDITIONAL,)),
    Operation("get", "/v1/roots.json", "feeds.roots_json", Auth.PUBLIC,
              "Root rotation chain, oldest first", "feeds", {200: _JSON},
              errors=(304, 503), headers=(_CONDITIONAL,)),
    Operation("get", "/v1/audit/checkpoint.json", "audit.checkpoint", Auth.READER,
              "The audit head (seq, hash) signed by the feed key: keep it, compare later",
              "feeds", {200: out.EnvelopeSchema}, errors=(503,)),
    Operation("get", "/v1/audit/chain", "audit.chain", Auth.READER,
              "Hash-only audit chain rows (seq, prev_hash, hash) from `from`", "feeds",
              {200: out.ChainProofSchema}, query=ChainProofQuerySchema),
    Operation("get", "/v1/feeds", "feeds.list_feeds", Auth.READER,
              "Feeds and their current versions", "feeds", {200: out.FeedListSchema}),
    Operation("get", "/v1/feeds/{feed}/manifest.json", "feeds.manifest", Auth.READER,
              "Signed manifest of one feed", "feeds", {200: out.EnvelopeSchema},
              errors=(304, 404), headers=(_CONDITIONAL,), path_params=_FEED),
    Operation("get", "/v1/feeds/{feed}/artifacts/{name}", "feeds.artifact", Auth.READER,
              "An immutable, content-addressed artifact (<sha256>.lfa)", "feeds",
              {200: "application/octet-stream"}, errors=(304, 404),
              headers=(_CONDITIONAL,),
              path_params={**_FEED, "name": {"type": "string", "pattern": r"^[0-9a-f]{64}\.lfa$"}}),
    Operation("post", "/v1/admin/feeds/build", "feeds.admin_build", Auth.ADMIN,
              "Build feeds now (409 when a build is already running)", "feeds",
              {200: out.BuildResultSchema, 409: out.BuildResultSchema}, errors=(503,)),
)

# Statuses every operation may answer: bad JSON, too large, wrong media type or
# encoding, invalid input, too many requests.
COMMON_ERRORS: tuple[int, ...] = (400, 413, 414, 415, 422, 429)
AUTH_ERRORS: Mapping[Auth, tuple[int, ...]] = {
    Auth.PUBLIC: (),
    Auth.MEMBER: (401, 403),
    Auth.READER: (401, 403),
    Auth.ADMIN: (401, 403),
}
_MEMBER_SCHEMES = ("memberId", "memberTimestamp", "memberNonce", "memberSignature")
SECURITY: Mapping[Auth, list[dict[str, list[str]]]] = {
    Auth.PUBLIC: [],
    Auth.MEMBER: [dict.fromkeys(_MEMBER_SCHEMES, [])],
    Auth.READER: [{"readerToken": []}, dict.fromkeys(_MEMBER_SCHEMES, [])],
    Auth.ADMIN: [{"adminToken": []}],
}
_DESCRIPTION = """\
Lianfang (联防) hub: members submit keyed-hashed indicators; the hub serves signed feeds.

**Member requests** are signed with the member's Ed25519 key over method, path
(with `?query`), timestamp, nonce and the SHA-256 of the body (headers
`X-Lianfang-Member`, `X-Lianfang-Timestamp`, `X-Lianfang-Nonce`,
`X-Lianfang-Signature`; ±300 s clock window; a nonce is never accepted twice).
**Reader tokens** (`Bearer lfr_…`) only read feeds and the consortium key.
**Admin tokens** (`Bearer lfa_…`) come from `POST /v1/admin/login`.

Every error answers `{"error": {"code", "message", "fields"}}`; input limits and
rate limits are listed in docs/API.md.
"""


def operation_for(endpoint: str, method: str) -> Operation | None:
    method = method.lower()
    for op in OPERATIONS:
        if op.endpoint == endpoint and op.method == method:
            return op
    return None


def _content(kind: type[Schema] | str) -> dict[str, Any]:
    if isinstance(kind, str):
        if not kind:
            return {}
        schema = {"type": "string", "format": "binary"} if "octet" in kind else {}
        return {"content": {kind: {"schema": schema}}}
    return {"content": {_JSON: {"schema": kind}}}


def _describe(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, kind in op.ok.items():
        responses[str(status)] = {"description": "success", **_content(kind)}
    for status in sorted({*COMMON_ERRORS, *AUTH_ERRORS[op.auth], *op.errors} - set(op.ok)):
        if status == 304:
            responses["304"] = {"description": "not modified (If-None-Match matched)"}
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in op.path_params.items()
    ]
    parameters.extend(op.headers)
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    described: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": SECURITY[op.auth],
        "x-lianfang-auth": op.auth.value,
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        described["requestBody"] = {
            "required": op.body_required,
            "content": {_JSON: {"schema": op.body}},
        }
    return described


_ERROR_TEXT = {
    400: "the body is not valid JSON or breaks a parser limit (depth, number length)",
    401: "missing, malformed or unverifiable credentials",
    403: "credentials are valid but not allowed here (wrong kind, member not approved)",
    404: "no such resource",
    409: "conflicts with the current state",
    413: "body larger than the limit",
    414: "query string longer than the limit",
    415: "body is not JSON, or is compressed",
    422: "input failed validation; `fields` names the problems",
    429: "rate limited or account locked; see Retry-After",
    503: "the hub is not initialised or its database is unreachable",
}


WIRE_TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"


def _wire_time(self: Any, field_obj: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """`WireTime` is exactly `YYYY-MM-DDTHH:MM:SSZ` (schemas.timefmt.parse_time)."""
    if isinstance(field_obj, rs.WireTime):
        return {"pattern": WIRE_TIME_PATTERN, "minLength": 20, "maxLength": 20}
    return {}


def build_spec(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.0 document as a dict (deterministic for a given code version)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Lianfang hub API",
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": _DESCRIPTION},
        servers=[{"url": server_url}],
    )
    plugin.map_to_openapi_type(rs.WireTime, "string", None)
    plugin.converter.add_attribute_function(_wire_time)  # type: ignore[union-attr]
    for name, header in zip(
        _MEMBER_SCHEMES, (HEADER_MEMBER, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE),
        strict=True,
    ):
        spec.components.security_scheme(name, {"type": "apiKey", "in": "header", "name": header})
    spec.components.security_scheme(
        "readerToken", {"type": "http", "scheme": "bearer", "description": "lfr_… reader token"}
    )
    spec.components.security_scheme(
        "adminToken", {"type": "http", "scheme": "bearer", "description": "lfa_… admin token"}
    )
    spec.components.schema("Error", schema=out.ErrorSchema)
    for status, text in _ERROR_TEXT.items():
        spec.components.response(
            f"Error{status}",
            {"description": text, "content": {_JSON: {"schema": "Error"}}},
        )
    grouped: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        grouped.setdefault(op.path, {})[op.method] = _describe(op)
    for path, operations in grouped.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    _close_request_schemas(document)
    return document


def _close_request_schemas(document: dict[str, Any]) -> None:
    """Request schemas refuse unknown fields (marshmallow RAISE): say so in the spec;
    answer schemas do not promise that."""
    names: set[str] = set()
    for item in document["paths"].values():
        for described in item.values():
            ref = (
                described.get("requestBody", {}).get("content", {}).get(_JSON, {})
                .get("schema", {}).get("$ref")
            )
            if ref:
                names.add(ref.rsplit("/", 1)[-1])
    components = document["components"]["schemas"]
    for schema in components.values():
        # apispec closes every marshmallow schema (unknown=RAISE); answers stay open
        # so that adding a field to an answer is not a breaking change.
        schema.pop("additionalProperties", None)
    pending = list(names)
    while pending:
        name = pending.pop()
        schema = components[name]
        schema["additionalProperties"] = False
        for prop in schema.get("properties", {}).values():
            target = prop.get("items", prop).get("$ref")
            if target:
                child = target.rsplit("/", 1)[-1]
                if child not in names:
                    names.add(child)
                    pending.append(child)


def spec_for(app: Flask) -> dict[str, Any]:
    """The app's spec, built once (it depends only on code)."""
    cached = app.extensions.get(_EXTENSION)
    if cached is None:
        cached = build_spec()
        app.extensions[_EXTENSION] = cached
    return cached


bp = Blueprint("openapi", __name__, url_prefix="/v1")

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Lianfang hub API</title>
<link rel="stylesheet" href="/v1/docs/assets/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="/v1/docs/assets/docs-init.js"></script>
</body></html>
"""


@bp.get("/openapi.json")
def spec() -> ResponseReturnValue:
    response = jsonify(spec_for(current_app._get_current_object()))  # type: ignore[attr-defined]
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    response = Response(_DOCS_PAGE, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return response


@bp.get("/docs/assets/<name>")
def asset(name: str) -> ResponseReturnValue:
    """A vendored asset; the large ones are stored gzipped (`<name>.gz`).

    Why gzipped on disk: the wheel is one distribution, so `pip install lianfang`
    (the SDK alone) carries these files too, and 1.9 MB of Swagger UI kept the
    SDK over its 100 MB footprint budget (docs/SDK_INSTALL.md). Browsers get the
    gzip bytes with `Content-Encoding: gzip`; a client that does not accept gzip
    gets them decompressed.
    """
    if name not in DOC_ASSETS:
        raise ApiError(404, "not_found", "no such documentation asset")
    packed = _ASSETS / f"{name}.gz"
    if not packed.is_file():
        return send_from_directory(_ASSETS, name, max_age=3600)
    data = packed.read_bytes()
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if request.accept_encodings["gzip"]:
        response = Response(data, mimetype=mimetype)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(gzip.decompress(data), mimetype=mimetype)
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.max_age = 3600
    response.cache_control.public = True
    return response
