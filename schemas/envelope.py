"""Signed envelopes: `{"signed": {...}, "signatures": [{"keyid", "sig"}]}`.

Used for keys.json, root rotation statements and feed manifests. Verification
looks signatures up by key id among keys the caller already trusts and never
by a key carried inside the document being verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from schemas.canonical import canonical_json
from schemas.keys import ED25519_SIGNATURE_LEN, b64decode, b64encode, key_id


class EnvelopeError(ValueError):
    """The envelope is malformed or no trusted key signed it."""


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def keyid_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return key_id(public_key_raw(public))


def sign_envelope(signed: Mapping[str, Any], *keys: Ed25519PrivateKey) -> dict[str, Any]:
    message = canonical_json(dict(signed))
    return {
        "signed": dict(signed),
        "signatures": [{"keyid": keyid_of(k), "sig": b64encode(k.sign(message))} for k in keys],
    }


def verified_signers(envelope: Any, trusted: Mapping[str, Ed25519PublicKey]) -> set[str]:
    """Key ids among `trusted` whose signature over `envelope["signed"]` verifies."""
    if not isinstance(envelope, dict) or set(envelope) != {"signed", "signatures"}:
        raise EnvelopeError("envelope must have exactly 'signed' and 'signatures'")
    signed, signatures = envelope["signed"], envelope["signatures"]
    if not isinstance(signed, dict) or not isinstance(signatures, list):
        raise EnvelopeError("'signed' must be an object and 'signatures' a list")
    message = canonical_json(signed)
    good: set[str] = set()
    for entry in signatures:
        if not isinstance(entry, dict):
            raise EnvelopeError("each signature must be an object")
        kid, sig = entry.get("keyid"), entry.get("sig")
        if not isinstance(kid, str) or not isinstance(sig, str):
            raise EnvelopeError("each signature needs string 'keyid' and 'sig'")
        key = trusted.get(kid)
        if key is None:
            continue
        try:
            key.verify(b64decode(sig, length=ED25519_SIGNATURE_LEN), message)
        except (InvalidSignature, ValueError):
            continue
        good.add(kid)
    return good


def verify_envelope(envelope: Any, trusted: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """Return `signed` if at least one trusted key signed it, else raise EnvelopeError."""
    if not verified_signers(envelope, trusted):
        raise EnvelopeError("no valid signature by a trusted key")
    return envelope["signed"]
