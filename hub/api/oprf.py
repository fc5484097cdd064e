"""`POST /v1/oprf/evaluate` and `GET /v1/oprf/keys`: oblivious hashing (issue 20).

A screener (reader token) or a member (signature) sends blinded ristretto255
elements; the hub evaluates them under the current epoch's OPRF key in VOPRF mode
(RFC 9497, ristretto255-SHA512) and answers the evaluated elements with one
batched DLEQ proof for the epoch's published public key. The hub learns nothing
about the inputs; what it can do is count them: every element costs one unit of
the caller's daily quota (`oprf_reader` per token, `oprf_member` per member), so
a leaked token enumerates at the quota's pace, not at HMAC speed offline.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.api.request_io import load_body
from hub.auth.reader_tokens import require_reader_or_member
from hub.errors import ApiError
from hub.ratelimit import check_oprf
from hub.services import oprf_keys
from hub.services.consortium_keys import config_wrapping_key
from schemas.keys import b64encode
from schemas.oprf_wire import MAX_MEMBER_ELEMENTS, MAX_READER_ELEMENTS, OprfEvaluateSchema

bp = Blueprint("oprf", __name__, url_prefix="/v1/oprf")
_EVALUATE = OprfEvaluateSchema()


@bp.post("/evaluate")
@require_reader_or_member
def evaluate() -> ResponseReturnValue:
    """Evaluate a batch of blinded elements; the batch bound depends on who asks."""
    data = load_body(_EVALUATE)
    elements: list[bytes] = data["elements"]
    token = g.reader_token
    limit = MAX_READER_ELEMENTS if token is not None else MAX_MEMBER_ELEMENTS
    if len(elements) > limit:
        who = "a reader token" if token is not None else "a member"
        raise ApiError(422, "validation_error", f"invalid input: elements (at most {limit})",
                       fields={"elements": [f"{who} evaluates at most {limit} elements "
                                            "per request"]})
    check_oprf(token.id if token is not None else None, g.member.id, len(elements))
    session = db.session()
    epoch, server = oprf_keys.current_oprf_key(session, config_wrapping_key(get_config()))
    session.commit()  # the epoch's key, when this request created it
    if data["epoch"] is not None and data["epoch"] != epoch:
        raise ApiError(409, "epoch_not_current",
                       f"epoch {data['epoch']} is not the current OPRF epoch ({epoch})")
    evaluated, proof = server.blind_evaluate_batch(elements)
    g.oprf_evaluated = ("reader" if token is not None else "member", len(elements))  # metrics
    response = jsonify({
        "epoch": epoch,
        "public_key": b64encode(server.public_key),
        "evaluated": [b64encode(e) for e in evaluated],
        "proof": b64encode(proof),
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/keys")
@require_reader_or_member
def keys() -> ResponseReturnValue:
    """The public keys clients verify proofs against (current and retiring epochs)."""
    session = db.session()
    document = oprf_keys.keys_document(session, config_wrapping_key(get_config()))
    session.commit()
    return jsonify(document)
