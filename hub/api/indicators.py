"""`GET /v1/indicators/<kind>/<value>` (member-signed): the merged listing of one indicator.

It says how the consortium sees the indicator (tier, score, categories, how
many members) and never which members reported it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from hub import db
from hub.auth.member_signature import require_member
from hub.errors import ApiError, validation_error
from hub.services.listings import listing_view
from schemas.reports import IndicatorRefSchema, ListingSchema

bp = Blueprint("indicators", __name__, url_prefix="/v1/indicators")
_REF = IndicatorRefSchema()
_LISTING = ListingSchema()


@bp.get("/<kind>/<value>")
@require_member
def show(kind: str, value: str) -> ResponseReturnValue:
    try:
        ref = _REF.load({"kind": kind, "value": value})
    except ValidationError as exc:
        raise validation_error(exc) from None
    view = listing_view(db.session(), ref["kind"], ref["value"])
    if view is None:
        raise ApiError(404, "not_found", "no member has reported this indicator")
    return jsonify(_LISTING.dump(view))
