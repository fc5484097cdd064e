"""Near-duplicate complaint templates as keyed MinHash signatures (issue 17).

Organised complaint groups send one template to many institutions with names,
numbers, amounts, synonyms and sentence order changed. An exact fingerprint
never matches two such copies, and the complaint text itself must never leave
the member. So the member's SDK turns a text into a signature of
`SIGNATURE_SIZE` 16-bit values:

1. the text is normalised (NFKC, lower case, no spacing or punctuation) and
   every run of digits becomes `#`, because amounts, dates, phone and ID numbers
   are exactly what a template's copies change;
2. its character `SHINGLE`-grams are hashed with keyed BLAKE2b under a key
   derived from the members-only identity key;
3. `SIGNATURE_SIZE` MinHash values are taken over them (a keyed multiply-xor
   family on the 64-bit shingle hashes) and each is cut to its low 16 bits
   (b-bit MinHash: two texts agree on a value with probability J + (1-J)/2**16,
   J the Jaccard similarity of their shingle sets).

The hub finds candidates through bands of `BAND_ROWS` values (an inverted
index, so a lookup costs the candidates, not the store) and links two
complaints when `similarity()` is at least `LINK_SIMILARITY`, the threshold the
evaluation in bench/bench_campaigns.py chose on a seeded synthetic corpus.

Without the key a signature is a function of PRF outputs: nobody can test a
guessed text. Anyone holding the identity key (every approved member) can sign a
guessed text and compare — docs/THREAT_MODEL.md says so.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np

from schemas.indicators import InvalidIndicator, normalize_complaint_text

__all__ = [
    "BAND_ROWS",
    "LINK_SIMILARITY",
    "SHINGLE",
    "SIGNATURE_SIZE",
    "band_keys",
    "minhash",
    "parse_signature",
    "similarity",
    "template_key",
    "template_shingles",
    "template_signature",
]

SHINGLE = 3
SIGNATURE_SIZE = 256
BAND_ROWS = 4
LINK_SIMILARITY = 0.36
"""Estimated Jaccard similarity at which two complaints are one template's copies."""

SIGNATURE_HEX = SIGNATURE_SIZE * 4
"""A signature on the wire: SIGNATURE_SIZE big-endian 16-bit values as lowercase hex."""
_SIGNATURE = re.compile(rf"[0-9a-f]{{{SIGNATURE_HEX}}}", re.ASCII)

MIN_TEXT_CHARS = 12
"""Below this many normalised characters a text has too few shingles to say anything."""

_DIGITS = re.compile(r"\d+")
_LABEL = b"lianfang complaint template v1"
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def template_key(identity_key: bytes) -> bytes:
    """The 32-byte key of template signatures, derived from an epoch's identity key.

    A derived key keeps signature hashes from ever equalling an HMAC indicator
    under the same epoch key, whatever the text.
    """
    if not isinstance(identity_key, bytes | bytearray) or len(identity_key) < 16:
        raise InvalidIndicator("the identity key must be at least 16 bytes")
    return hmac.new(bytes(identity_key), _LABEL, hashlib.sha256).digest()


def template_shingles(text: str) -> set[str]:
    """The character shingles a template signature is taken over."""
    if not isinstance(text, str):
        raise InvalidIndicator("complaint text must be given as a string")
    norm = _DIGITS.sub("#", normalize_complaint_text(text))
    if len(norm) < MIN_TEXT_CHARS:
        raise InvalidIndicator(
            f"complaint text has {len(norm)} characters after normalisation; "
            f"a template signature needs at least {MIN_TEXT_CHARS}")
    return {norm[i:i + SHINGLE] for i in range(len(norm) - SHINGLE + 1)}


def _family(key: bytes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The keyed MinHash family: `size` odd multipliers and `size` xor masks."""
    stream = hashlib.shake_256(key + b"/minhash-family").digest(16 * size)
    words = np.frombuffer(stream, dtype=">u8").astype(np.uint64).reshape(2, size)
    return words[0] | np.uint64(1), words[1]


def minhash(text: str, key: bytes, size: int = SIGNATURE_SIZE) -> np.ndarray:
    """`size` 64-bit MinHash values of `text` under the derived template `key`."""
    shingles = sorted(template_shingles(text))
    digests = b"".join(hashlib.blake2b(s.encode(), key=key, digest_size=8).digest()
                       for s in shingles)
    x = np.frombuffer(digests, dtype=">u8").astype(np.uint64)
    mult, mask = _family(key, size)
    with np.errstate(over="ignore"):
        values = (x[:, None] ^ mask[None, :]) * mult[None, :]
    return (values & _MASK64).min(axis=0)


def template_signature(text: str, identity_key: bytes) -> str:
    """The wire signature of a complaint text (what a member sends instead of it)."""
    values = minhash(text, template_key(identity_key)) & np.uint64(0xFFFF)
    return values.astype(">u2").tobytes().hex()


def parse_signature(signature: str) -> np.ndarray:
    """The 16-bit values of a wire signature; InvalidIndicator for anything else."""
    if not isinstance(signature, str) or _SIGNATURE.fullmatch(signature) is None:
        raise InvalidIndicator(
            f"a complaint template signature is {SIGNATURE_HEX} lowercase hex characters")
    return np.frombuffer(bytes.fromhex(signature), dtype=">u2").astype(np.uint16)


def band_keys(values: np.ndarray) -> list[bytes]:
    """The inverted-index keys of a signature: band number + its BAND_ROWS values."""
    return [bytes([band]) + values[band * BAND_ROWS:(band + 1) * BAND_ROWS].astype(">u2").tobytes()
            for band in range(SIGNATURE_SIZE // BAND_ROWS)]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures' texts."""
    return float(np.count_nonzero(a == b)) / SIGNATURE_SIZE
