"""Digests that tie a feed's versions together (docs/FORMATS.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from schemas.canonical import canonical_json

MANIFEST_FORMAT = 1
_VOLATILE = ("issued_at", "expires_at")


def chain_digest(signed: Mapping[str, Any]) -> str:
    """Digest of a manifest version that ignores re-signing (refresh) timestamps."""
    stable = {k: v for k, v in signed.items() if k not in _VOLATILE}
    return hashlib.sha256(canonical_json(stable)).hexdigest()


def key_set_digest(sorted_keys: np.ndarray) -> str:
    """set_digest of a phone feed: SHA-256 of the sorted keys as little-endian u64.

    Little-endian is the SDK's at-rest layout, so the digest of a memory-mapped
    store is computed over its buffer directly, without an 80 MB copy per
    10^7-entry sync.
    """
    keys = np.ascontiguousarray(sorted_keys, dtype="<u8")
    return hashlib.sha256(memoryview(keys).cast("B")).hexdigest()


def record_set_digest(records: Iterable[Mapping[str, Any]]) -> str:
    """set_digest of the complaint-groups feed: canonical records sorted by group_id."""
    ordered = sorted(records, key=lambda r: r["group_id"])
    return hashlib.sha256(b"\n".join(canonical_json(dict(r)) for r in ordered)).hexdigest()


def phone_key(value_hex: str) -> int:
    """The 64-bit feed key of a phone HMAC: its first 8 bytes, big-endian."""
    return int(value_hex[:16], 16)
