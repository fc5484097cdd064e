"""What a feed holds, per kind: sorted uint64 keys (phone feeds) or group records.

The publisher and builder are written once against this small interface, so
the two entry kinds differ only in codec, digest and on-disk state format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from schemas import artifact as codec
from schemas.canonical import canonical_json
from schemas.enums import Feed
from schemas.manifest import MANIFEST_FORMAT, key_set_digest, record_set_digest

Records = list[dict[str, Any]]


class EntryKind(Protocol):
    """Codec, digest and state file format of one kind of feed entries."""

    state_suffix: str

    def empty(self) -> Any: ...
    def count(self, entries: Any) -> int: ...
    def digest(self, entries: Any, fmt: int = MANIFEST_FORMAT) -> str: ...
    def snapshot(self, entries: Any, version: int) -> bytes: ...
    def delta(self, adds: Any, removes: Any, from_v: int, to_v: int) -> bytes: ...
    def apply(self, base: Any, adds: Any, removes: Any) -> Any: ...
    def apply_artifact(self, base: Any, art: Any) -> Any: ...
    def is_empty_change(self, adds: Any, removes: Any) -> bool: ...
    def dump(self, entries: Any) -> bytes: ...
    def load(self, path: Path) -> Any: ...


class KeyEntries:
    """Phone feeds: a sorted, distinct np.ndarray[uint64]."""

    state_suffix = ".u64"

    def empty(self) -> np.ndarray:
        return np.zeros(0, dtype=np.uint64)

    def count(self, entries: np.ndarray) -> int:
        return int(entries.size)

    def digest(self, entries: np.ndarray, fmt: int = MANIFEST_FORMAT) -> str:
        """`set_digest` under manifest format `fmt` (a build checks its previous
        version, which an older hub may have signed as format 1)."""
        return key_set_digest(entries, fmt)

    def snapshot(self, entries: np.ndarray, version: int) -> bytes:
        return codec.encode_key_snapshot(entries, version)

    def delta(self, adds: np.ndarray, removes: np.ndarray, from_v: int, to_v: int) -> bytes:
        return codec.encode_key_delta(adds, removes, from_v, to_v)

    def apply(self, base: np.ndarray, adds: np.ndarray, removes: np.ndarray) -> np.ndarray:
        return codec.apply_key_delta(base, adds, removes)

    def apply_artifact(self, base: np.ndarray | None, art: Any) -> np.ndarray:
        if art.type == codec.SNAPSHOT:
            return np.asarray(art.keys, dtype=np.uint64)
        return codec.apply_key_delta(base, art.keys, art.removes)

    def is_empty_change(self, adds: np.ndarray, removes: np.ndarray) -> bool:
        return adds.size == 0 and removes.size == 0

    def dump(self, entries: np.ndarray) -> bytes:
        return np.ascontiguousarray(entries, dtype="<u8").tobytes()

    def load(self, path: Path) -> np.ndarray:
        return np.fromfile(path, dtype="<u8").astype(np.uint64, copy=False)


class RecordEntries:
    """complaint-groups: records sorted by group_id; removes are group ids."""

    state_suffix = ".json"

    def empty(self) -> Records:
        return []

    def count(self, entries: Records) -> int:
        return len(entries)

    def digest(self, entries: Records, fmt: int = MANIFEST_FORMAT) -> str:
        return record_set_digest(entries)  # the same in every format

    def snapshot(self, entries: Records, version: int) -> bytes:
        return codec.encode_record_snapshot(entries, version)

    def delta(self, adds: Records, removes: list[str], from_v: int, to_v: int) -> bytes:
        return codec.encode_record_delta(adds, removes, from_v, to_v)

    def apply(self, base: Records, adds: Records, removes: list[str]) -> Records:
        return codec.apply_record_delta(base, adds, removes)

    def apply_artifact(self, base: Records | None, art: Any) -> Records:
        if art.type == codec.SNAPSHOT:
            return list(art.records)
        return codec.apply_record_delta(base or [], art.records, art.removed_ids)

    def is_empty_change(self, adds: Records, removes: list[str]) -> bool:
        return not adds and not removes

    def dump(self, entries: Records) -> bytes:
        return canonical_json(entries)

    def load(self, path: Path) -> Records:
        return json.loads(path.read_bytes())


KEYS = KeyEntries()
RECORDS = RecordEntries()


def kind_of(feed: str) -> EntryKind:
    """Entry kind of a feed name; ValueError for an unknown feed."""
    return RECORDS if Feed(feed) is Feed.COMPLAINT_GROUPS else KEYS
