"""Reader tokens for a member's call screeners: mint (shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body
from hub.auth.member_signature import require_member
from hub.services import audit, tokens
from schemas.membership import ReaderTokenCreateSchema

bp = Blueprint("reader_tokens", __name__, url_prefix="/v1/reader-tokens")
_CREATE = ReaderTokenCreateSchema()


@bp.post("")
@require_member
def mint() -> ResponseReturnValue:
    data = load_body(_CREATE, required=False)
    session = db.session()
    row, token = tokens.mint_reader_token(
        session, g.member, data.get("label"), data["scope"],
        max_tokens=get_config().reader_tokens_per_member,
    )
    session.flush()
    audit.record(session, f"member:{g.member.id}", "reader_token.mint", row.id,
                 {"scope": data["scope"]})
    session.commit()
    body = tokens.reader_token_to_dict(row)
    body["token"] = token
    return jsonify(body), 201


@bp.get("")
@require_member
def list_tokens() -> ResponseReturnValue:
    rows = tokens.list_reader_tokens(db.session(), g.member.id)
    return jsonify({"items": [tokens.reader_token_to_dict(r) for r in rows]})


@bp.delete("/<token_id>")
@require_member
def revoke(token_id: str) -> ResponseReturnValue:
    session = db.session()
    row = tokens.revoke_reader_token(session, g.member.id, token_id)
    audit.record(session, f"member:{g.member.id}", "reader_token.revoke", row.id, {})
    session.commit()
    return jsonify(tokens.reader_token_to_dict(row))
