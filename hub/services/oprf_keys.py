"""OPRF keys per consortium epoch (issue 20): generated, sealed like the HMAC keys, published.

Each consortium epoch gets one ristretto255 key pair for `POST /v1/oprf/evaluate`.
The private scalar is sealed under the store's wrapping key (`consortium_keys.seal`,
AES-GCM, associated data naming the epoch, so a ciphertext cannot be moved to
another epoch or row); the public key is published (`GET /v1/oprf/keys`) so that
every client checks the VOPRF proof of each evaluation against the one key of
the epoch — the hub cannot tag a client with a key of its own.

An epoch's OPRF key follows its consortium epoch's state: the hub evaluates
under the *current* epoch only, and lists the public keys of current and
retiring epochs. Epochs created before migration 0013 get their key on first
use (`current_oprf_key`), inside a savepoint so that two workers racing to
create it end up with one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models.consortium import ConsortiumKey
from hub.models.oprf import OprfKey
from hub.services.consortium_keys import seal, unseal
from schemas.enums import EpochState
from schemas.keys import b64encode
from schemas.oprf import EPOCH_MODE, SUITE_ID, VoprfServer, generate_key_pair
from schemas.timefmt import format_time, utcnow


def oprf_aad(epoch: int) -> bytes:
    """Distinct from the HMAC keys' associated data: no ciphertext swaps between them."""
    return f"lianfang-oprf-key:{epoch}".encode("ascii")


def create_oprf_key(session: Session, wrap: bytes, epoch: int) -> OprfKey:
    """A fresh key pair for `epoch`, sealed and added to the session (not flushed)."""
    pair = generate_key_pair()
    nonce, ciphertext = seal(wrap, pair.private_key, oprf_aad(epoch))
    row = OprfKey(epoch=epoch, nonce=nonce, ciphertext=ciphertext,
                  public_key=pair.public_key, created_at=utcnow())
    session.add(row)
    return row


def _current_epoch(session: Session) -> int:
    epoch = session.scalar(
        select(ConsortiumKey.epoch).where(ConsortiumKey.state == EpochState.CURRENT.value))
    if epoch is None:
        raise ApiError(503, "no_consortium_key", "the hub has no consortium key yet; run init")
    return epoch


def _ensure(session: Session, wrap: bytes, epoch: int) -> OprfKey:
    row = session.get(OprfKey, epoch)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = create_oprf_key(session, wrap, epoch)
    except IntegrityError:  # another worker created it first
        row = session.get(OprfKey, epoch)
        if row is None:  # pragma: no cover - the conflicting row must exist
            raise
    return row


def current_oprf_key(session: Session, wrap: bytes) -> tuple[int, VoprfServer]:
    """The current epoch and a VOPRF server holding its key (created on first use)."""
    epoch = _current_epoch(session)
    row = _ensure(session, wrap, epoch)
    return epoch, VoprfServer(unseal(wrap, row.nonce, row.ciphertext, oprf_aad(epoch)))


def keys_document(session: Session, wrap: bytes) -> dict[str, Any]:
    """The `GET /v1/oprf/keys` body: the public keys of current and retiring epochs.

    Creates the current epoch's key when missing (so a client can fetch the
    public key before its first evaluation); no private material leaves here.
    """
    current = _current_epoch(session)
    _ensure(session, wrap, current)
    rows = session.execute(
        select(OprfKey, ConsortiumKey.state)
        .join(ConsortiumKey, ConsortiumKey.epoch == OprfKey.epoch)
        .where(ConsortiumKey.state != EpochState.RETIRED.value)
        .order_by(OprfKey.epoch.desc())
    ).all()
    return {
        "suite": SUITE_ID.decode("ascii"),
        "mode": EPOCH_MODE.name.lower(),
        "current_epoch": current,
        "keys": [
            {"epoch": row.epoch, "public_key": b64encode(row.public_key), "state": state,
             "created_at": format_time(row.created_at)}
            for row, state in rows
        ],
    }
