"""Complaint-text fingerprints: SimHash over character 3-shingles, keyed for the wire.

One small module on purpose: issue 17 replaces SimHash with a keyed MinHash/LSH
here without touching callers.

Why keyed: an unkeyed fingerprint lets anyone holding a feed or a database dump
test a guessed complaint text ("does this template appear?") offline. The wire
value (`keyed_simhash64`) hashes each shingle with BLAKE2b keyed by a key derived
from the epoch's *identity* key, which only approved members receive (issue 14):
texts still match within one epoch (same key, same feature hashes), and without
the key a fingerprint cannot be reproduced or tested. `simhash64` (unkeyed) is the
same construction with an unkeyed feature hash, kept for the published test
vectors; members never send it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from schemas.indicators import MIN_KEY_BYTES, InvalidIndicator, normalize_complaint_text

__all__ = ["keyed_simhash64", "simhash64", "simhash_distance"]

_HEX16 = re.compile(r"[0-9a-f]{16}", re.ASCII)
_KEY_LABEL = b"lianfang complaint_text fingerprint v1"


def _simhash(text: str, feature: Callable[[bytes], bytes]) -> str:
    """Bit i is set when the occurrence-weighted vote of the shingles' bit i is positive."""
    norm = normalize_complaint_text(text)
    if not norm:
        raise InvalidIndicator("complaint text is empty after normalisation")
    if len(norm) < 3:
        shingles = Counter([norm])
    else:
        shingles = Counter(norm[i : i + 3] for i in range(len(norm) - 2))
    digests = b"".join(feature(s.encode()) for s in shingles)
    hashes = np.frombuffer(digests, dtype=np.uint8).reshape(len(shingles), 8)
    weights = np.fromiter(shingles.values(), dtype=np.int64, count=len(shingles))
    bits = np.unpackbits(hashes, axis=1).astype(np.int64)  # column 0 = most significant bit
    votes = (2 * bits - 1).T @ weights
    return bytes(np.packbits((votes > 0).astype(np.uint8))).hex()


def simhash64(text: str) -> str:
    """Unkeyed 64-bit SimHash (16 lowercase hex) of the normalised complaint text.

    Features are character 3-shingles, because Chinese text has no word
    boundaries; each feature hash is BLAKE2b-64 of its UTF-8 bytes, weighted by how
    often it occurs. A text of one or two characters is a single feature. For test
    vectors only: what members send is `keyed_simhash64`.
    """
    return _simhash(text, lambda b: hashlib.blake2b(b, digest_size=8).digest())


def keyed_simhash64(text: str, key: bytes) -> str:
    """The wire value of a complaint text: SimHash with BLAKE2b-64 keyed by
    HMAC-SHA256(`key`, label), `key` being the epoch's identity key."""
    if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
        raise InvalidIndicator(f"the consortium key must be at least {MIN_KEY_BYTES} bytes")
    feature_key = hmac.new(bytes(key), _KEY_LABEL, hashlib.sha256).digest()
    return _simhash(
        text, lambda b: hashlib.blake2b(b, digest_size=8, key=feature_key).digest()
    )


def simhash_distance(a: str, b: str) -> int:
    """Hamming distance between two 16-hex SimHashes (0 = same template)."""
    for v in (a, b):
        if _HEX16.fullmatch(v) is None:
            raise InvalidIndicator("a SimHash is 16 lowercase hex characters")
    return (int(a, 16) ^ int(b, 16)).bit_count()
