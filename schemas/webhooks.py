"""Member webhook wire schemas (issue 19): `POST /v1/webhooks`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.membership import no_control_chars


class WebhookCreateSchema(Schema):
    """An https:// endpoint of the member (checked further by the hub: no private hosts)."""

    url = fields.Url(
        required=True, schemes={"http", "https"}, require_tld=False,
        validate=[validate.Length(max=500), no_control_chars],
    )
