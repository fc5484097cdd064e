"""Member-signed indicator lookups: the merged listing of one indicator, or of up to 10,000.

`GET /v1/indicators/<kind>/<value>` and `POST /v1/indicators/lookup` say how
the consortium sees an indicator (tier, score, categories, how many members)
and never which members reported it. Both count against the member's lookup
budget in *values* (`LIANFANG_RATELIMIT_MEMBER_LOOKUP`): a batch of n costs
n, so batching saves round trips, not quota.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.errors import ApiError, validation_error
from hub.ratelimit import check_member_values
from hub.services.listings import listing_view, listing_views
from schemas.reports import IndicatorRefSchema, ListingSchema, LookupBatchSchema

bp = Blueprint("indicators", __name__, url_prefix="/v1/indicators")
_REF = IndicatorRefSchema()
_LISTING = ListingSchema()
_BATCH = LookupBatchSchema()
_NOT_FOUND = "no member has reported this indicator"


@bp.get("/<kind>/<value>")
@require_member
def show(kind: str, value: str) -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": kind, "value": value})
    except ValidationError as exc:
        raise validation_error(exc) from None
    check_member_values(g.member.id, 1)
    view = listing_view(db.session(), ref["kind"], ref["value"])
    if view is None:
        raise ApiError(404, "not_found", _NOT_FOUND)
    return jsonify(_LISTING.dump(view))


@bp.post("/lookup")
@require_member
def lookup() -> ResponseReturnValue:
    """One answer per item, in order: what `GET /v1/indicators/<kind>/<value>` answers.

    `status` is that single lookup's HTTP status (200 with `listing`, 404 or 422
    with `error`), so a client treats both routes alike. The whole batch is
    counted before any database work: a member over its budget costs nothing.
    """
    items = load_body(_BATCH)["items"]
    check_member_values(g.member.id, len(items))
    refs: list[dict[str, Any] | None] = []
    errors: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        try:
            refs.append(_REF.load(item))
        except ValidationError as exc:
            refs.append(None)
            errors[index] = validation_error(exc).to_dict()["error"]
    views = listing_views(db.session(), [(r["kind"], r["value"]) for r in refs if r])
    results: list[dict[str, Any]] = []
    found = 0
    for index, ref in enumerate(refs):
        if ref is None:
            results.append({"index": index, "status": 422, "error": errors[index]})
            continue
        answer: dict[str, Any] = {"index": index, "kind": ref["kind"], "value": ref["value"]}
        view = views.get((ref["kind"], ref["value"]))
        if view is None:
            answer.update(status=404,
                          error=ApiError(404, "not_found", _NOT_FOUND).to_dict()["error"])
        else:
            found += 1
            answer.update(status=200, listing=_LISTING.dump(view))
        results.append(answer)
    return jsonify({"count": len(results), "found": found, "invalid": len(errors),
                    "results": results})
