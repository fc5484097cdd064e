"""The `.lfa` feed artifact container (docs/FORMATS.md "Artifact files").

A snapshot carries a whole set, a delta the adds and removes between two
consecutive versions. Phone-feed keys go in Rice sections (`schemas.rice`),
complaint-group records in zlib-compressed canonical JSON sections.

Decoding treats its input as hostile: every size is checked against the bytes
actually present and against `max_entries` before anything is allocated, and
every failure is an `ArtifactError` (never an IndexError or MemoryError).
The SDK verifies an artifact's SHA-256 against a signed manifest before
decoding, so these checks are defence in depth against a compromised hub.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.canonical import canonical_json
from schemas.rice import ArtifactError, as_sorted_keys, rice_decode, rice_encode

SNAPSHOT = 1
DELTA = 2
CODEC_RICE = 1
CODEC_JSON = 2

MAGIC = b"LFA1"
_HEADER = struct.Struct("<4sBBHQQ")
_SECTION = struct.Struct("<QBQ")
MAX_JSON_BYTES = 256 * 1024 * 1024
"""Upper bound on a decompressed JSON section: stops a zlib bomb."""

__all__ = [
    "CODEC_JSON",
    "CODEC_RICE",
    "DELTA",
    "SNAPSHOT",
    "ArtifactError",
    "KeyArtifact",
    "RecordArtifact",
    "apply_key_delta",
    "apply_record_delta",
    "decode_artifact",
    "encode_key_delta",
    "encode_key_snapshot",
    "encode_record_delta",
    "encode_record_snapshot",
]


@dataclass(frozen=True)
class KeyArtifact:
    """A decoded key artifact. Snapshot: `keys` = entries, `removes` empty. Delta: `keys` = adds."""

    type: int
    from_version: int
    to_version: int
    keys: np.ndarray
    removes: np.ndarray


@dataclass(frozen=True)
class RecordArtifact:
    """A decoded complaint-groups artifact (records sorted by `group_id`)."""

    type: int
    from_version: int
    to_version: int
    records: list[dict[str, Any]]
    removed_ids: list[str]


# --------------------------------------------------------------------------- keys


def _key_section(keys: np.ndarray) -> bytes:
    k, payload = rice_encode(keys)
    return _SECTION.pack(int(keys.size), k, len(payload)) + payload


def _header(kind: int, codec: int, from_version: int, to_version: int) -> bytes:
    for name, value in (("from_version", from_version), ("to_version", to_version)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise ArtifactError(f"{name} must be a non-negative integer")
    return _HEADER.pack(MAGIC, kind, codec, 0, from_version, to_version)


def encode_key_snapshot(keys: np.ndarray, version: int) -> bytes:
    """A snapshot artifact of the full sorted key set at `version`."""
    arr = as_sorted_keys(keys, "keys")
    return _header(SNAPSHOT, CODEC_RICE, 0, version) + _key_section(arr)


def encode_key_delta(
    adds: np.ndarray, removes: np.ndarray, from_version: int, to_version: int
) -> bytes:
    """A delta artifact: keys added and removed between two versions (disjoint sets)."""
    a = as_sorted_keys(adds, "adds")
    r = as_sorted_keys(removes, "removes")
    if a.size and r.size and np.intersect1d(a, r, assume_unique=True).size:
        raise ArtifactError("a key cannot be both added and removed in one delta")
    if to_version <= from_version:
        raise ArtifactError("a delta's to_version must be greater than its from_version")
    return _header(DELTA, CODEC_RICE, from_version, to_version) + _key_section(a) + _key_section(r)


def apply_key_delta(base: np.ndarray, adds: np.ndarray, removes: np.ndarray) -> np.ndarray:
    """Sorted result of (base - removes) + adds; refuses a delta that does not fit `base`
    (a remove that is absent or an add already present means the client is on another version)."""
    b = as_sorted_keys(base, "base")
    a = as_sorted_keys(adds, "adds")
    r = as_sorted_keys(removes, "removes")
    if r.size:
        pos = np.searchsorted(b, r)
        found = (pos < b.size) & (b[np.minimum(pos, max(b.size - 1, 0))] == r) if b.size else None
        if found is None or not bool(found.all()):
            raise ArtifactError("delta removes a key that is not in the base set")
        keep = np.ones(b.size, dtype=bool)
        keep[pos] = False
        b = b[keep]
    if a.size:
        if b.size:
            pos = np.searchsorted(b, a)
            hit = (pos < b.size) & (b[np.minimum(pos, b.size - 1)] == a)
            if bool(hit.any()):
                raise ArtifactError("delta adds a key that is already in the base set")
        merged = np.concatenate([b, a])
        merged.sort(kind="stable")
        return merged
    return b.copy()


# ------------------------------------------------------------------------ records


def _record_payload(records: list[dict[str, Any]]) -> bytes:
    return zlib.compress(canonical_json(records), 9)


def _sorted_records(records: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    ids: set[str] = set()
    for rec in records:
        gid = rec.get("group_id") if isinstance(rec, dict) else None
        if not isinstance(gid, str) or not gid:
            raise ArtifactError(f"every {what} record needs a string group_id")
        if gid in ids:
            raise ArtifactError(f"duplicate group_id {gid!r} in {what}")
        ids.add(gid)
    return sorted(records, key=lambda r: r["group_id"])


def _json_section(records: list[dict[str, Any]]) -> bytes:
    try:
        payload = _record_payload(records)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"records are not canonical JSON: {exc}") from None
    return _SECTION.pack(len(records), 0, len(payload)) + payload


def encode_record_snapshot(records: list[dict[str, Any]], version: int) -> bytes:
    """A snapshot of complaint-group records (sorted by group_id)."""
    recs = _sorted_records(records, "snapshot")
    return _header(SNAPSHOT, CODEC_JSON, 0, version) + _json_section(recs)


def encode_record_delta(
    adds: list[dict[str, Any]], removed_ids: list[str], from_version: int, to_version: int
) -> bytes:
    """A delta of complaint groups: a changed group is a remove plus an add."""
    recs = _sorted_records(adds, "adds")
    if len(set(removed_ids)) != len(removed_ids) or not all(
        isinstance(g, str) and g for g in removed_ids
    ):
        raise ArtifactError("removed_ids must be distinct non-empty strings")
    if to_version <= from_version:
        raise ArtifactError("a delta's to_version must be greater than its from_version")
    removes = [{"group_id": g} for g in sorted(removed_ids)]
    return (
        _header(DELTA, CODEC_JSON, from_version, to_version)
        + _json_section(recs)
        + _json_section(removes)
    )


def apply_record_delta(
    base: list[dict[str, Any]], adds: list[dict[str, Any]], removed_ids: list[str]
) -> list[dict[str, Any]]:
    """(base - removed) + adds, sorted by group_id; refuses a delta that does not fit `base`."""
    by_id = {r["group_id"]: r for r in base}
    for gid in removed_ids:
        if gid not in by_id:
            raise ArtifactError(f"delta removes group {gid!r} that is not in the base set")
        del by_id[gid]
    for rec in adds:
        gid = rec["group_id"]
        if gid in by_id:
            raise ArtifactError(f"delta adds group {gid!r} that is already in the base set")
        by_id[gid] = rec
    return [by_id[g] for g in sorted(by_id)]


# ------------------------------------------------------------------------- decode


class _Reader:
    """Bounds-checked cursor over the artifact bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > len(self.data) - self.pos:
            raise ArtifactError(f"artifact truncated: {what} needs {n} bytes")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _read_section(r: _Reader, codec: int, max_entries: int) -> tuple[int, int, bytes]:
    count, param, length = _SECTION.unpack(r.take(_SECTION.size, "section header"))
    if count > max_entries:
        raise ArtifactError(f"section count {count} exceeds the limit of {max_entries}")
    if codec == CODEC_JSON and param != 0:
        raise ArtifactError("JSON section parameter must be 0")
    if codec == CODEC_RICE and param > 63:
        raise ArtifactError(f"Rice parameter {param} out of range")
    return count, param, bytes(r.take(length, "section payload"))


def _decode_json(payload: bytes, count: int) -> list[Any]:
    try:
        d = zlib.decompressobj()
        raw = d.decompress(payload, MAX_JSON_BYTES)
        if d.unconsumed_tail or not d.eof or d.unused_data:
            raise ArtifactError("JSON section is not one complete zlib stream within limits")
        records = json.loads(raw.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ArtifactError(f"JSON section is not valid zlib/JSON: {exc}") from None
    if not isinstance(records, list) or len(records) != count:
        raise ArtifactError("JSON section does not hold an array of `count` records")
    if not all(isinstance(x, dict) and isinstance(x.get("group_id"), str) for x in records):
        raise ArtifactError("every record must be an object with a string group_id")
    ids = [x["group_id"] for x in records]
    if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
        raise ArtifactError("records must be sorted by distinct group_id")
    return records


def decode_artifact(data: bytes, *, max_entries: int = 50_000_000) -> KeyArtifact | RecordArtifact:
    """Parse and validate an artifact; every malformation is an ArtifactError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ArtifactError("artifact must be bytes")
    r = _Reader(bytes(data))
    magic, kind, codec, reserved, from_v, to_v = _HEADER.unpack(r.take(_HEADER.size, "header"))
    if magic != MAGIC:
        raise ArtifactError("not a Lianfang artifact (bad magic)")
    if kind not in (SNAPSHOT, DELTA):
        raise ArtifactError(f"unknown artifact type {kind}")
    if codec not in (CODEC_RICE, CODEC_JSON):
        raise ArtifactError(f"unknown artifact codec {codec}")
    if reserved != 0:
        raise ArtifactError("reserved header bytes must be zero")
    if kind == SNAPSHOT and from_v != 0:
        raise ArtifactError("a snapshot's from_version must be 0")
    if kind == DELTA and to_v <= from_v:
        raise ArtifactError("a delta's to_version must be greater than its from_version")
    sections = [_read_section(r, codec, max_entries) for _ in range(1 if kind == SNAPSHOT else 2)]
    if r.pos != len(r.data):
        raise ArtifactError(f"{len(r.data) - r.pos} trailing bytes after the last section")
    if codec == CODEC_RICE:
        keys = [rice_decode(payload, count, k) for count, k, payload in sections]
        removes = keys[1] if kind == DELTA else np.empty(0, dtype=np.uint64)
        both = kind == DELTA and keys[0].size and removes.size
        if both and np.intersect1d(keys[0], removes, assume_unique=True).size:
            raise ArtifactError("a key is both added and removed in one delta")
        return KeyArtifact(kind, from_v, to_v, keys[0], removes)
    recs = [_decode_json(payload, count) for count, _k, payload in sections]
    removed: list[str] = []
    if kind == DELTA:
        if any(set(x) != {"group_id"} for x in recs[1]):
            raise ArtifactError("a delta's removes section holds only {group_id} objects")
        removed = [x["group_id"] for x in recs[1]]
    return RecordArtifact(kind, from_v, to_v, recs[0], removed)
