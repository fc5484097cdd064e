"""The audit head in signed form, and hash-only chain proofs (issue 14, docs/FORMATS.md).

`GET /v1/audit/checkpoint.json` is the head (sequence number and hash) signed by
the current feed key -- the key manifests are signed with, which every screener
and member already verifies through keys.json. Clients keep each checkpoint
they see; a later chain whose row `seq` carries another hash is a rewrite the
hub signed against (`lianfang verify-audit`, `lianfang-hub verify-audit
--checkpoints`).

`GET /v1/audit/chain?from=N&limit=L` lists (seq, prev_hash, hash) only, so a
member checks that the chain links from its last checkpoint to the new one
without seeing any other member's actors, subjects or details.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from hub import db
from hub.api.request_io import load_query
from hub.auth.reader_tokens import require_reader_or_member
from hub.errors import ApiError
from hub.feeds import builder
from hub.feeds.keystore import KeystoreError
from hub.services import audit
from schemas.canonical import canonical_json
from schemas.timefmt import utcnow

bp = Blueprint("audit", __name__, url_prefix="/v1/audit")


class ChainProofQuerySchema(Schema):
    """`GET /v1/audit/chain?from=&limit=`: rows from `from` (inclusive), at most `limit`."""

    from_ = fields.Integer(data_key="from", required=True,
                           validate=validate.Range(min=1, max=2**31 - 1))
    limit = fields.Integer(load_default=audit.MAX_PROOF_ROWS,
                           validate=validate.Range(min=1, max=audit.MAX_PROOF_ROWS))


_PROOF = ChainProofQuerySchema()


@bp.get("/checkpoint.json")
@require_reader_or_member
def checkpoint() -> ResponseReturnValue:
    """The audit head signed now (no caching: the head moves with every audited change)."""
    signed = audit.checkpoint_signed(db.session(), utcnow())
    try:
        keystore = builder.keystore_for(current_app._get_current_object())  # type: ignore[attr-defined]
        envelope = keystore.sign_manifest(signed)
    except KeystoreError as exc:
        raise ApiError(503, "no_keys", "the hub has no signing keys yet; run init") from exc
    response = current_app.response_class(canonical_json(envelope), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/chain")
@require_reader_or_member
def chain() -> ResponseReturnValue:
    """Hash-only rows of the chain, oldest first, with the head they lead to."""
    query = load_query(_PROOF)
    session = db.session()
    seq, digest = audit.head(session)
    rows = audit.chain_proof(session, query["from_"], query["limit"])
    response = jsonify({"rows": rows, "head": {"seq": seq, "hash": digest}})
    response.headers["Cache-Control"] = "no-store"
    return response
