"""Signed envelopes: `{"signed": {...}, "signatures": [{"keyid", "sig"}]}`.

Used for keys.json, root rotation statements and feed manifests. Verification
looks signatures up by key id among keys the caller already trusts and never
by a key carried inside the document being verified.

Envelopes arrive from the network (a CDN copy, a man in the middle), so
`verified_signers` must fail on hostile input only with `EnvelopeError`: a
float, NaN, lone surrogate or absurd nesting in `signed` cannot be put in
canonical form, so nothing can have signed it, and callers map that one
exception to their own specific refusal.
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

MAX_SIGNED_DEPTH = 64
"""Deepest nesting accepted in `signed`; real documents use fewer than 5 levels.

Checked iteratively before canonicalising, so a hostile document can never
reach the interpreter's recursion limit inside the canonical-JSON code.
"""


MAX_SIGNATURES = 8
"""Most signatures one envelope may carry; real documents carry one or two.

Checked before any signature is verified, so padding a genuine document with
thousands of junk signatures under the real key id costs the verifier nothing.
"""


class EnvelopeError(ValueError):
    """The envelope is malformed or no trusted key signed it."""


class TooManySignaturesError(EnvelopeError):
    """More than MAX_SIGNATURES signatures: refused before verifying any."""


class DuplicateSignatureError(EnvelopeError):
    """Two signatures name the same key id: refused before verifying any."""


def _check_depth(value: Any, limit: int = MAX_SIGNED_DEPTH) -> None:
    """Raise EnvelopeError when `value` nests containers deeper than `limit` (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise EnvelopeError(f"'signed' nests deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def _signing_bytes(signed: dict[str, Any]) -> bytes:
    """The canonical bytes of `signed`, or EnvelopeError when it has none.

    canonical_json refuses floats, NaN/Infinity and non-string keys with
    ValueError and lone surrogates with UnicodeEncodeError (a ValueError);
    TypeError covers values JSON cannot carry at all; RecursionError is a last
    line behind the depth check.
    """
    _check_depth(signed)
    try:
        return canonical_json(signed)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EnvelopeError(f"'signed' has no canonical form: {type(exc).__name__}") from exc


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
    """Key ids among `trusted` whose signature over `envelope["signed"]` verifies.

    Returns a (possibly empty) set or raises EnvelopeError; never anything else,
    whatever JSON value `envelope` is.
    """
    if not isinstance(envelope, dict) or set(envelope) != {"signed", "signatures"}:
        raise EnvelopeError("envelope must have exactly 'signed' and 'signatures'")
    signed, signatures = envelope["signed"], envelope["signatures"]
    if not isinstance(signed, dict) or not isinstance(signatures, list):
        raise EnvelopeError("'signed' must be an object and 'signatures' a list")
    if len(signatures) > MAX_SIGNATURES:
        raise TooManySignaturesError(
            f"{len(signatures)} signatures, at most {MAX_SIGNATURES} are accepted"
        )
    seen: set[str] = set()
    for entry in signatures:
        if not isinstance(entry, dict):
            raise EnvelopeError("each signature must be an object")
        kid, sig = entry.get("keyid"), entry.get("sig")
        if not isinstance(kid, str) or not isinstance(sig, str):
            raise EnvelopeError("each signature needs string 'keyid' and 'sig'")
        if kid in seen:
            raise DuplicateSignatureError("two signatures name the same key id")
        seen.add(kid)
    message = _signing_bytes(signed)
    good: set[str] = set()
    for entry in signatures:
        kid, sig = entry["keyid"], entry["sig"]
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
