"""A phone feed's keys as the SDK holds them: an immutable base plus a small sorted overlay.

Issue 15: a delta sync of 1,000 changes on 10^7 keys used to rebuild the 80 MB
array, rewrite and fsync it and SHA-256 all of it. Here a delta costs what it
changes: it updates two small sorted arrays (`adds`, keys not in the base, and
`removes`, base keys no longer in the set) and rehashes only the digest buckets
it touched (format 2 `set_digest`, `schemas.manifest.key_set_digest`). The store
persists the overlay next to the base file (client_sdk/store.py) and folds it
into a new base once it passes `MERGE_AT` keys.

A `KeySet` is array-like (`len`, `size`, `tolist`, `np.asarray`): `FeedView.keys`
is one, and code that wants the flat sorted array gets it from `materialize()`
(built once, cached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas import artifact as codec
from schemas.manifest import (
    bucket_digests,
    bucket_of,
    bucket_offsets,
    key_set_digest,
    rehash_buckets,
    root_of,
)

MERGE_AT = 32_768
"""Overlay size (adds + removes) at which the store writes a new base file: below
it a sync writes a few KB, at it one sync pays what every sync paid before."""
_EMPTY = np.zeros(0, dtype=np.uint64)
_EMPTY.setflags(write=False)


def _contains(sorted_keys: np.ndarray, probe: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0 or probe.size == 0:
        return np.zeros(probe.size, dtype=bool)
    pos = np.searchsorted(sorted_keys, probe)
    return sorted_keys[np.minimum(pos, sorted_keys.size - 1)] == probe


def _merge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sorted union of two sorted, disjoint uint64 arrays."""
    out = np.concatenate([np.asarray(x, dtype=np.uint64), np.asarray(y, dtype=np.uint64)])
    out.sort()
    return out


@dataclass(frozen=True, eq=False)
class KeySet:
    """(base − removes) ∪ adds, with the format-2 bucket digests of that set.

    `base` is sorted and distinct (usually the store's read-only memmap); `adds`
    is disjoint from it and `removes` a subset of it, both sorted. `digests` is
    None until first needed (a format-1 feed never needs it).
    """

    base: np.ndarray
    adds: np.ndarray = field(default_factory=lambda: _EMPTY)
    removes: np.ndarray = field(default_factory=lambda: _EMPTY)
    base_file: str | None = None
    """The store's file holding `base` (None: not stored yet)."""
    offsets: np.ndarray | None = field(default=None, repr=False)
    digests: bytes | None = field(default=None, repr=False)
    _flat: list[np.ndarray] = field(default_factory=list, repr=False)

    @classmethod
    def of(cls, keys: Any, base_file: str | None = None) -> KeySet:
        """A set with no overlay (a snapshot, a freshly merged base)."""
        if not (isinstance(keys, np.ndarray) and keys.dtype == np.uint64):
            keys = np.asarray(keys, dtype=np.uint64)
        return cls(keys, base_file=base_file)  # a memmap stays one: no copy

    # ------------------------------------------------------------ array-like
    def __len__(self) -> int:
        return int(self.base.size + self.adds.size - self.removes.size)

    @property
    def size(self) -> int:
        return len(self)

    @property
    def overlay_size(self) -> int:
        return int(self.adds.size + self.removes.size)

    def materialize(self) -> np.ndarray:
        """The flat sorted array of the set (the base itself when there is no overlay)."""
        if not self.overlay_size:
            return self.base
        if not self._flat:
            self._flat.append(codec.apply_key_delta(self.base, self.adds, self.removes))
        return self._flat[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        flat = self.materialize()
        return flat if dtype is None else flat.astype(dtype, copy=False)

    def copy(self) -> np.ndarray:
        return np.array(self.materialize())

    def tolist(self) -> list[int]:
        return self.materialize().tolist()

    def __iter__(self) -> Any:
        return iter(self.materialize())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or not 0 <= int(key) < 2**64:
            return False
        probe = np.array([int(key)], dtype=np.uint64)
        if _contains(self.adds, probe)[0]:
            return True
        return bool(_contains(self.base, probe)[0]) and not bool(_contains(self.removes, probe)[0])

    # --------------------------------------------------------------- digest
    def _offsets(self) -> np.ndarray:
        if self.offsets is None:
            object.__setattr__(self, "offsets", bucket_offsets(self.base))
        assert self.offsets is not None
        return self.offsets

    def _digests(self) -> bytes:
        if self.digests is None:
            if self.overlay_size:
                object.__setattr__(self, "digests", bytes(bucket_digests(self.materialize())))
            else:
                object.__setattr__(self, "digests", bytes(bucket_digests(self.base,
                                                                         self._offsets())))
        assert self.digests is not None
        return self.digests

    def digest(self, fmt: int) -> str:
        """`set_digest` of this set under manifest format `fmt`."""
        if fmt == 1:
            return key_set_digest(self.materialize(), 1)
        return root_of(self._digests())

    # ---------------------------------------------------------------- apply
    def apply(self, adds: np.ndarray, removes: np.ndarray) -> KeySet:
        """The set after a delta, in O(changes + overlay): refuses (ArtifactError) a delta
        that removes an absent key or adds a present one, as `apply_key_delta` does."""
        a = codec.as_sorted_keys(adds, "adds")
        r = codec.as_sorted_keys(removes, "removes")
        r_in_adds = _contains(self.adds, r)
        r_in_base = _contains(self.base, r) & ~_contains(self.removes, r)
        if not bool((r_in_adds | r_in_base).all()):
            raise codec.ArtifactError("delta removes a key that is not in the base set")
        a_in_removes = _contains(self.removes, a)
        a_present = _contains(self.adds, a) | (_contains(self.base, a) & ~a_in_removes)
        if bool(a_present.any()):
            raise codec.ArtifactError("delta adds a key that is already in the base set")
        # the validation above makes every pair below disjoint: a sorted concatenation
        # is their union (np.union1d's hash-based unique measured 0.2 s here)
        new_adds = self.adds[~_contains(r[r_in_adds], self.adds)]
        new_removes = _merge(self.removes, r[~r_in_adds])
        new_removes = new_removes[~_contains(a[a_in_removes], new_removes)]
        new_adds = _merge(new_adds, a[~a_in_removes])
        digests = None
        if self.digests is not None and (a.size or r.size):
            touched = np.unique(bucket_of(np.concatenate([a, r])))
            offsets = self._offsets()
            parts = [self.base[offsets[b]:offsets[b + 1]] for b in touched.tolist()]
            from_base = np.concatenate(parts) if parts else _EMPTY
            from_base = from_base[~_contains(new_removes, from_base)]
            from_adds = new_adds[np.isin(bucket_of(new_adds), touched)]
            subset = _merge(from_base, from_adds)
            digests = bytes(rehash_buckets(self.digests, touched, subset))
        elif self.digests is not None:
            digests = self.digests
        return KeySet(self.base, new_adds, new_removes, self.base_file, self.offsets, digests)

    def rebased(self, base: np.ndarray, base_file: str) -> KeySet:
        """The same set with `base` (its content equal to `materialize()`) as the base."""
        offsets = self.offsets if not self.overlay_size else None
        return KeySet(base, base_file=base_file, offsets=offsets, digests=self.digests)

    def with_file(self, base: np.ndarray, base_file: str) -> KeySet:
        """The same base and overlay, the base now read from the store's `base_file`."""
        return KeySet(base, self.adds, self.removes, base_file, self.offsets, self.digests)


__all__ = ["MERGE_AT", "KeySet"]
