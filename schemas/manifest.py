"""Digests that tie a feed's versions together (docs/FORMATS.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from schemas.canonical import canonical_json

MANIFEST_FORMAT = 2
"""Format the hub publishes. 2 (issue 15): a phone feed's `set_digest` is the
bucketed root of `key_set_digest`, which a client updates in O(changes)."""
SUPPORTED_FORMATS = (1, 2)
"""Formats the SDK reads: 1 is what hubs before issue 15 publish (flat SHA-256)."""
_VOLATILE = ("issued_at", "expires_at")
BUCKET_BITS = 16
BUCKETS = 1 << BUCKET_BITS
_SHIFT = np.uint64(64 - BUCKET_BITS)
_EMPTY_BUCKET = hashlib.sha256(b"").digest()
_ROOT_TAG = b"lianfang phone-set v2\n"


def chain_digest(signed: Mapping[str, Any]) -> str:
    """Digest of a manifest version that ignores re-signing (refresh) timestamps."""
    stable = {k: v for k, v in signed.items() if k not in _VOLATILE}
    return hashlib.sha256(canonical_json(stable)).hexdigest()


def _le(sorted_keys: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(sorted_keys, dtype="<u8")


def bucket_offsets(sorted_keys: np.ndarray) -> np.ndarray:
    """`BUCKETS + 1` offsets: bucket b is `sorted_keys[off[b]:off[b + 1]]`, the keys
    whose top `BUCKET_BITS` bits are b."""
    starts = np.arange(BUCKETS, dtype=np.uint64) << _SHIFT
    offsets = np.empty(BUCKETS + 1, dtype=np.int64)
    offsets[:BUCKETS] = np.searchsorted(sorted_keys, starts)
    offsets[BUCKETS] = len(sorted_keys)
    return offsets


def bucket_of(keys: np.ndarray) -> np.ndarray:
    """The digest bucket of each key (its top `BUCKET_BITS` bits)."""
    return (np.asarray(keys, dtype=np.uint64) >> _SHIFT).astype(np.int64)


def bucket_digests(sorted_keys: np.ndarray, offsets: np.ndarray | None = None) -> bytearray:
    """SHA-256 of each bucket's keys as little-endian u64, 32 bytes per bucket."""
    keys = _le(sorted_keys)
    out = bytearray(_EMPTY_BUCKET * BUCKETS)
    if keys.size == 0:
        return out
    off = bucket_offsets(keys) if offsets is None else offsets
    raw = memoryview(keys).cast("B")
    bounds = off.tolist()
    for b in np.flatnonzero(np.diff(off)).tolist():
        out[32 * b:32 * b + 32] = hashlib.sha256(raw[8 * bounds[b]:8 * bounds[b + 1]]).digest()
    return out


def rehash_buckets(digests: bytes, touched: np.ndarray, subset: np.ndarray) -> bytearray:
    """`digests` with the buckets in `touched` (sorted distinct ids) recomputed from
    `subset`: the sorted keys of the new set that fall in those buckets, all of them."""
    out = bytearray(digests)
    keys = _le(subset)
    raw = memoryview(keys).cast("B")
    tops = bucket_of(keys)
    lo = np.searchsorted(tops, touched, side="left").tolist()
    hi = np.searchsorted(tops, touched, side="right").tolist()
    for b, i, j in zip(np.asarray(touched).tolist(), lo, hi, strict=True):
        out[32 * b:32 * b + 32] = (
            hashlib.sha256(raw[8 * i:8 * j]).digest() if j > i else _EMPTY_BUCKET
        )
    return out


def root_of(digests: bytes) -> str:
    """The format-2 `set_digest` of a phone feed from its bucket digests."""
    return hashlib.sha256(_ROOT_TAG + bytes(digests)).hexdigest()


def key_set_digest(sorted_keys: np.ndarray, fmt: int = MANIFEST_FORMAT) -> str:
    """set_digest of a phone feed (docs/FORMATS.md).

    Format 2: SHA-256 over a tag and the SHA-256 of each of the 2^16 buckets of
    keys sharing their top 16 bits (sorted, little-endian u64; an empty bucket
    hashes the empty string) -- a two-level Merkle tree, collision resistant as
    SHA-256 is, whose root a client updates after a delta by rehashing only the
    buckets the delta touched. Format 1 (older hubs): SHA-256 of all keys.
    Little-endian is the SDK's at-rest layout, so a memory-mapped store is hashed
    over its buffer directly, without an 80 MB copy per 10^7-entry sync.
    """
    if fmt == 1:
        return hashlib.sha256(memoryview(_le(sorted_keys)).cast("B")).hexdigest()
    return root_of(bucket_digests(sorted_keys))


def record_set_digest(records: Iterable[Mapping[str, Any]]) -> str:
    """set_digest of the complaint-groups feed: canonical records sorted by group_id."""
    ordered = sorted(records, key=lambda r: r["group_id"])
    return hashlib.sha256(b"\n".join(canonical_json(dict(r)) for r in ordered)).hexdigest()


def phone_key(value_hex: str) -> int:
    """The 64-bit feed key of a phone HMAC: its first 8 bytes, big-endian."""
    return int(value_hex[:16], 16)
