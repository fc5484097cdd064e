"""Reading request input: JSON bodies and query strings through marshmallow schemas."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from hub.errors import ApiError, validation_error
from hub.limits import parse_json


def json_body(required: bool = True) -> Any:
    """The parsed JSON body; 415 when not JSON, 400 when it does not parse or
    breaks a `hub.limits` bound (nesting depth, number length)."""
    raw = request.get_data(cache=True)
    if not raw and not required:
        return {}
    if request.mimetype != "application/json":
        raise ApiError(
            415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)"
        )
    return parse_json(raw)


def load_body(schema: Schema, *, required: bool = True) -> Any:
    """Validate the JSON body with `schema`; 422 naming the fields on failure."""
    data = json_body(required=required)
    if not isinstance(data, dict) and not schema.many:
        raise ApiError(
            422,
            "validation_error",
            "the request body must be a JSON object",
            fields={"_schema": ["must be a JSON object"]},
        )
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def load_query(schema: Schema) -> Any:
    """Validate the query string with `schema`."""
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise validation_error(exc) from None
