"""TAXII 2.1, read-only: the phone block and warn lists as STIX 2.1 indicators.

For members' threat-intel platforms (OpenCTI, MISP, any TAXII 2.1 client):
discovery at `/taxii2/`, one API root `/taxii2/lianfang/`, a collection per list
with `objects` and `manifest` paged by `added_after`, `limit` and `next`.
Authentication is a member's TAXII token (`POST /v1/reader-tokens` with
`{"scope": "taxii"}`), as the HTTP Basic password or a Bearer token; a
screener's reader token is refused (`hub.auth.reader_tokens.authenticate_taxii`).
Not under `/v1`: TAXII fixes its own paths and media types (docs/API.md).
There is no complaint-campaign collection: campaigns do not exist in the hub yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, json, request
from marshmallow import Schema, ValidationError, fields, validate

from hub import db
from hub.api.request_io import load_query
from hub.auth.reader_tokens import authenticate_taxii
from hub.errors import ApiError
from hub.services import exports
from schemas.enums import Feed

bp = Blueprint("taxii", __name__, url_prefix="/taxii2")

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
API_ROOT = "lianfang"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000

COLLECTIONS: dict[str, Feed] = {
    exports.stable_id(f"collection:{feed.value}"): feed
    for feed in exports.EXPORT_FEEDS
}
_DESCRIPTIONS = {
    Feed.PHONE_BLOCK: "Phone numbers the consortium blocks, as keyed tokens.",
    Feed.PHONE_WARN: "Phone numbers the consortium warns about, as keyed tokens.",
}


class TaxiiTimestamp(fields.Field):
    """A TAXII timestamp, `YYYY-MM-DDTHH:MM:SS[.s+]Z`, as an aware UTC datetime."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not value.endswith("Z") or len(value) > 40:
            raise ValidationError("must be an RFC 3339 UTC timestamp such as "
                                  "2026-01-01T00:00:00.000Z")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("must be an RFC 3339 UTC timestamp such as "
                                  "2026-01-01T00:00:00.000Z") from None
        return moment.astimezone(UTC)


class CursorField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> exports.Cursor:
        try:
            return exports.Cursor.decode(str(value))
        except (ValueError, OverflowError, OSError):
            raise ValidationError("is not a `next` value this server returned") from None


class PageQuerySchema(Schema):
    """`objects` and `manifest` query: unknown parameters (`match[...]`) are refused."""

    added_after = TaxiiTimestamp(load_default=None)
    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT))
    next = CursorField(load_default=None)


_PAGE = PageQuerySchema()


def _taxii(body: dict[str, Any], status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=None,
                        content_type=TAXII_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _collection(collection_id: str) -> Feed:
    feed = COLLECTIONS.get(collection_id)
    if feed is None:
        raise ApiError(404, "not_found", f"no collection {collection_id}")
    return feed


def _collection_info(collection_id: str, feed: Feed) -> dict[str, Any]:
    return {
        "id": collection_id,
        "title": f"Lianfang {feed.value}",
        "description": _DESCRIPTIONS[feed],
        "can_read": True,
        "can_write": False,
        "media_types": [STIX_MEDIA_TYPE],
    }


@bp.errorhandler(ApiError)
def _taxii_error(err: ApiError) -> Response:
    """A TAXII 2.1 error message (`title`, `description`, `http_status`) that also
    carries the hub's own `error` object, so the field names reach either kind of client."""
    body = {"title": err.code, "description": err.message, "http_status": str(err.status),
            **err.to_dict()}
    return _taxii(body, status=err.status, headers=err.headers)


@bp.before_request
def _authenticate() -> None:
    authenticate_taxii()


@bp.get("/")
def discovery() -> Response:
    root = request.url_root + f"taxii2/{API_ROOT}/"
    return _taxii({
        "title": "Lianfang hub TAXII 2.1",
        "description": "The consortium's phone block and warn lists as STIX 2.1 "
                       "indicators over keyed phone tokens (read-only).",
        "default": root,
        "api_roots": [root],
    })


@bp.get(f"/{API_ROOT}/")
def api_root() -> Response:
    return _taxii({
        "title": "Lianfang",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": 0,
    })


@bp.get(f"/{API_ROOT}/collections/")
def collections() -> Response:
    return _taxii({"collections": [_collection_info(cid, f) for cid, f in COLLECTIONS.items()]})


@bp.get(f"/{API_ROOT}/collections/<collection_id>/")
def collection(collection_id: str) -> Response:
    return _taxii(_collection_info(collection_id, _collection(collection_id)))


def _page(collection_id: str) -> tuple[list[exports.Entry], dict[str, Any], dict[str, str]]:
    feed = _collection(collection_id)
    query = load_query(_PAGE)
    entries, more = exports.collection_page(
        db.session(), feed, after=query["next"], added_after=query["added_after"],
        limit=query["limit"],
    )
    envelope: dict[str, Any] = {"more": more}
    if more:
        last = entries[-1]
        envelope["next"] = exports.Cursor(last.added, last.seq).encode()
    headers = {}
    if entries:
        headers = {
            "X-TAXII-Date-Added-First": exports.taxii_time(entries[0].added),
            "X-TAXII-Date-Added-Last": exports.taxii_time(entries[-1].added),
        }
    return entries, envelope, headers


@bp.get(f"/{API_ROOT}/collections/<collection_id>/objects/")
def objects(collection_id: str) -> Response:
    entries, envelope, headers = _page(collection_id)
    envelope["objects"] = [e.obj for e in entries]
    return _taxii(envelope, headers=headers)


@bp.get(f"/{API_ROOT}/collections/<collection_id>/manifest/")
def manifest(collection_id: str) -> Response:
    entries, envelope, headers = _page(collection_id)
    envelope["objects"] = [
        {
            "id": e.obj["id"],
            "date_added": exports.taxii_time(e.added),
            "version": e.obj["modified"],
            "media_type": STIX_MEDIA_TYPE,
        }
        for e in entries
    ]
    return _taxii(envelope, headers=headers)
