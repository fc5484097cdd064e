"""The `.lfa` feed artifact codec (docs/FORMATS.md "Artifact files").

A phone feed is a sorted set of 64-bit keys; a snapshot carries the whole set,
a delta the adds and removes between two consecutive versions. Keys are stored
as Golomb-Rice coded gaps (about 5.3 bytes per key for 10^7 random keys instead
of 8), complaint-group records as zlib-compressed canonical JSON.

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
    "rice_decode",
    "rice_encode",
]


class ArtifactError(ValueError):
    """An artifact is malformed, inconsistent, or an encoder got invalid input."""


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



# ------------------------------------------------------------------- Rice codec
#
# Bit position p counts from the most significant bit of the payload's first byte.
# Both directions work on 64-bit big-endian words so that numpy does the per-key
# work; bench/RESULTS.md has the measured figures.

_M64 = (1 << 64) - 1
_ALL = np.uint64(_M64)
_CHUNK = 1 << 20
_LANE_MIN = 1 << 15
"""Below this many codes the scalar decoder is faster than the lane decoder."""
_LANE_CODES = 2048
"""Most codes per lane for the vectorised decoder (fewer for smaller sets, so that
numpy's per-call overhead is spread over at least ~1000 lanes)."""
_LANE_OVERLAP = 640
"""Codes a lane decodes past its block end, so the true chain can meet the next lane
(for 10^6 random keys 99% of lanes are met within 200 codes; the rest fall back)."""
MAX_MEAN_QUOTIENT = 32
"""A Rice payload may spend at most this many unary bits per code on average. An encoder
that picks k near log2(mean gap), as the format asks, spends about 1.5; the bound caps
the decoder's work on a hostile payload of long unary runs."""


def _choose_k(gaps: np.ndarray) -> int:
    """The Rice parameter minimising the payload size among log2(mean gap) and neighbours."""
    n = gaps.size
    total = int(gaps.sum(dtype=np.uint64)) if n < (1 << 32) else sum(int(x) for x in gaps)
    mean = total // n
    k0 = max(mean.bit_length() - 1, 0)
    best_k, best_bits = 0, None
    for k in range(max(k0 - 1, 0), min(k0 + 1, 63) + 1):
        bits = n * (k + 1) + int((gaps >> np.uint64(k)).sum(dtype=np.uint64))
        if best_bits is None or bits < best_bits:
            best_k, best_bits = k, bits
    return best_k


def _or_into(out: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """out[idx] |= vals for a non-decreasing idx with repeats (disjoint bits per word)."""
    if idx.size == 0:
        return
    starts = np.flatnonzero(np.concatenate(([True], idx[1:] != idx[:-1])))
    out[idx[starts]] |= np.bitwise_or.reduceat(vals, starts)


def _put_codes(
    out: np.ndarray, offsets: np.ndarray, codes: np.ndarray, lengths: np.ndarray
) -> None:
    """Write codes (each at most 64 bits long, offsets increasing) MSB-first into `out`."""
    w = offsets >> 6
    end = (offsets & 63) + lengths
    left = np.maximum(64 - end, 0).astype(np.uint64)
    right = np.maximum(end - 64, 0).astype(np.uint64)
    _or_into(out, w, (codes << left) >> right)
    _or_into(out, w + 1, codes << (128 - end).astype(np.uint64))


def _put_ones(out: np.ndarray, starts: np.ndarray, runs: np.ndarray) -> None:
    """Set runs of one-bits [start, start+run) (used only for unary parts longer than a word)."""
    if starts.size == 0:
        return
    last = starts + runs - 1
    wa, wb = starts >> 6, last >> 6
    nw = wb - wa + 1
    first_slot = np.cumsum(nw) - nw
    idx = np.repeat(wa, nw) + (np.arange(int(nw.sum())) - np.repeat(first_slot, nw))
    mask = np.full(idx.size, _ALL, dtype=np.uint64)
    mask[first_slot] &= _ALL >> (starts & 63).astype(np.uint64)
    mask[first_slot + nw - 1] &= _ALL << (63 - (last & 63)).astype(np.uint64)
    np.bitwise_or.at(out, idx, mask)


def _rice_encode(keys: np.ndarray) -> tuple[int, bytes]:
    n = keys.size
    if n == 0:
        return 0, b""
    if n == 1:
        return 0, int(keys[0]).to_bytes(8, "big")
    gaps = np.diff(keys) - np.uint64(1)
    k = _choose_k(gaps)
    k64 = np.uint64(k)
    quot = (gaps >> k64).astype(np.int64)
    total_bits = 64 + int(quot.sum()) + (n - 1) * (k + 1)
    out = np.zeros((total_bits + 63) // 64 + 2, dtype=np.uint64)
    out[0] = keys[0]
    lengths = quot + (k + 1)
    starts = np.cumsum(lengths) - lengths + 64
    low = np.uint64((1 << k) - 1)
    for a in range(0, n - 1, _CHUNK):
        q, o = quot[a : a + _CHUNK], starts[a : a + _CHUNK]
        r = gaps[a : a + _CHUNK] & low
        short = q + (k + 1) <= 64
        if bool(short.all()):
            ones = (np.uint64(1) << q.astype(np.uint64)) - np.uint64(1)
            _put_codes(out, o, (ones << np.uint64(k + 1)) | r, q + (k + 1))
            continue
        qs, os_ = q[short], o[short]
        ones = (np.uint64(1) << qs.astype(np.uint64)) - np.uint64(1)
        _put_codes(out, os_, (ones << np.uint64(k + 1)) | r[short], qs + (k + 1))
        long_ = ~short
        ql, ol = q[long_], o[long_]
        _put_codes(out, ol + ql, r[long_], np.full(ql.size, k + 1, dtype=np.int64))
        _put_ones(out, ol, ql)
    return k, out.astype(">u8").tobytes()[: (total_bits + 7) // 8]


def _window(words: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The 64 bits starting at each bit position p (words padded with two zero words)."""
    i = p >> 6
    s = (p & 63).astype(np.uint64)
    return (words[i] << s) | (words[i + 1] >> (np.uint64(64) - s))


def _leading_ones(w: np.ndarray) -> np.ndarray:
    """Count of leading one-bits of each uint64 (64 for all ones)."""
    v = ~w
    _, e = np.frexp(v.astype(np.float64))
    h = e.astype(np.int64) - 1
    rounded_up = (v != 0) & ((v >> np.maximum(h, 0).astype(np.uint64)) == 0)
    return 63 - (h - rounded_up)


_LEADING_ONES_16 = (
    16 - np.array([((~v) & 0xFFFF).bit_length() for v in range(1 << 16)], dtype=np.int64)
)
"""Leading one-bits of every 16-bit value: most unary codes are shorter than 16 bits."""


def _scalar_chain(words: np.ndarray, p: int, nbits: int, k: int, want: int,
                  stop: np.ndarray | None = None) -> tuple[list[int], int]:
    """Follow the code chain from search position p one code at a time.

    Returns the terminator positions found (at most `want`) and, when `stop`
    (sorted terminators of a speculative lane) is given, the index in `stop` of
    the first terminator shared with it (-1 if none): from there the chains agree.
    """
    found: list[int] = []
    stop_set = set(stop.tolist()) if stop is not None else None
    stop_last = int(stop[-1]) if stop is not None and stop.size else -1
    while len(found) < want and p < nbits:
        i, s = p >> 6, p & 63
        w = ((int(words[i]) << s) | (int(words[i + 1]) >> (64 - s))) & _M64
        c = 64 - (w ^ _M64).bit_length()
        if c == 64:
            p += 64
            continue
        z = p + c
        if z >= nbits:
            break
        if stop_set is not None:
            if z in stop_set:
                return found, int(np.searchsorted(stop, z))
            if z > stop_last:
                stop_set = None
        found.append(z)
        p = z + k + 1
    return found, -1


def _lane_chains(
    words: np.ndarray, nbits: int, k: int, lanes: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Decode speculative chains from evenly spaced bit positions, all lanes in lockstep.

    A chain started at an arbitrary position usually falls into step with the true
    chain within a few hundred codes (both follow the same deterministic rule
    "next terminator = first zero bit after the previous one plus k+1"); the
    merge step in `_terminators` checks where, and never trusts a lane it could
    not join.
    """
    bounds = 64 + (np.arange(lanes, dtype=np.int64) * ((nbits - 64) // lanes))
    next_b = np.append(bounds[1:], nbits)
    p = bounds.copy()
    active = np.ones(lanes, dtype=bool)
    past = np.zeros(lanes, dtype=np.int64)
    rec: list[np.ndarray] = []
    step = k + 1
    while active.any():
        p[~active] = 0
        w = _window(words, p)
        c = _LEADING_ONES_16[w >> np.uint64(48)]
        wide = c == 16
        if wide.any():
            c[wide] = _leading_ones(w[wide])
        z = p + c
        hit = active & (c < 64) & (z < nbits)
        rec.append(np.where(hit, z, -1))
        p = np.where(c < 64, z + step, p + 64)
        past += hit & (z >= next_b)
        active &= (hit | (c == 64)) & (past < _LANE_OVERLAP) & (p < nbits)
    table = np.stack(rec, axis=1)
    return bounds, [row[row >= 0] for row in table]


def _terminators(words: np.ndarray, nbits: int, k: int, m: int) -> np.ndarray:
    """Bit positions of the first m terminating zero-bits of the code chain starting at 64."""
    if m < _LANE_MIN:
        found, _ = _scalar_chain(words, 64, nbits, k, m)
        return np.asarray(found, dtype=np.int64)
    per_lane = min(max(m // 1024, 256), _LANE_CODES)
    lanes = max(2, min(m // per_lane, 1 << 14))
    bounds, chains = _lane_chains(words, nbits, k, lanes)
    pieces: list[np.ndarray] = []
    chain = chains[0]
    for j in range(1, lanes):
        lane = chains[j]
        cut = int(np.searchsorted(chain, bounds[j]))
        over = chain[cut:]
        pos = np.searchsorted(lane, over)
        ok = pos < lane.size
        ok[ok] = lane[pos[ok]] == over[ok]
        if ok.any():
            h = int(np.argmax(ok))
            pieces.append(chain[: cut + h])
            chain = lane[pos[h]:]
            continue
        # No meeting point within the overlap: continue the true chain by hand.
        start = int(chain[-1]) + k + 1 if chain.size else 64
        extra, at = _scalar_chain(words, start, nbits, k, m, stop=lane)
        pieces.append(chain)
        if at >= 0:
            pieces.append(np.asarray(extra, dtype=np.int64))
            chain = lane[at:]
        else:
            chain = np.asarray(extra, dtype=np.int64)
            pieces.append(chain)
            chain = chain[:0]
            break
    pieces.append(chain)
    terms = np.concatenate(pieces)
    return terms[:m]


def _rice_decode(payload: bytes, count: int, k: int) -> np.ndarray:
    nbits = len(payload) * 8
    if count == 0:
        if payload:
            raise ArtifactError("trailing bytes in an empty Rice section")
        return np.empty(0, dtype=np.uint64)
    m = count - 1
    if nbits < 64 + m * (k + 1):
        raise ArtifactError("Rice payload too short for its key count")
    if nbits > 64 + m * (k + 1 + MAX_MEAN_QUOTIENT) + 7:
        raise ArtifactError("Rice payload too long for its key count and parameter")
    pad = (-len(payload)) % 8 + 16
    words = np.frombuffer(payload + bytes(pad), dtype=">u8").astype(np.uint64)
    first = words[0]
    if m == 0:
        end = 64
        terms = np.empty(0, dtype=np.int64)
    else:
        terms = _terminators(words, nbits, k, m)
        if terms.size < m:
            raise ArtifactError("Rice payload too short for its key count")
        end = int(terms[-1]) + k + 1
    if end > nbits:
        raise ArtifactError("Rice payload too short for its key count")
    if nbits - end >= 8:
        raise ArtifactError("trailing bytes after the last Rice code")
    if nbits > end and (payload[-1] & ((1 << (nbits - end)) - 1)):
        raise ArtifactError("Rice padding bits must be zero")
    if m == 0:
        return np.array([first], dtype=np.uint64)
    prev = np.empty(m, dtype=np.int64)
    prev[0] = 64
    prev[1:] = terms[:-1] + (k + 1)
    quot = terms - prev
    if k and bool((quot >> (64 - k)).any()):
        raise ArtifactError("Rice gap overflows 64 bits")
    out = np.empty(count, dtype=np.uint64)
    out[0] = first
    k64 = np.uint64(k)
    for a in range(0, m, _CHUNK):
        t = terms[a : a + _CHUNK]
        rem = _window(words, t + 1) >> (np.uint64(64) - k64) if k else np.zeros(t.size, np.uint64)
        high = quot[a : a + _CHUNK].astype(np.uint64) << k64
        out[a + 1 : a + 1 + t.size] = (high | rem) + np.uint64(1)
    np.cumsum(out, out=out)
    if not bool((out[1:] > out[:-1]).all()):
        raise ArtifactError("Rice keys overflow 64 bits")
    return out


# --------------------------------------------------------------------------- keys


def _as_sorted_keys(keys: np.ndarray, what: str) -> np.ndarray:
    """Validate that `keys` is a 1-D strictly increasing uint64 array (no silent sorting:
    an unsorted input means the caller's set logic is wrong, and the digest would be too)."""
    arr = np.asarray(keys)
    if arr.ndim != 1:
        raise ArtifactError(f"{what} must be a 1-D array")
    bad_kind = arr.dtype.kind not in "iu" or (arr.dtype.kind == "i" and bool((arr < 0).any()))
    if arr.size and arr.dtype != np.uint64 and bad_kind:
        raise ArtifactError(f"{what} must be unsigned 64-bit integers")
    arr = np.ascontiguousarray(arr, dtype=np.uint64)
    if arr.size > 1 and not bool((arr[1:] > arr[:-1]).all()):
        raise ArtifactError(f"{what} must be sorted ascending and distinct")
    return arr


def rice_encode(sorted_keys: np.ndarray) -> tuple[int, bytes]:
    """Golomb-Rice encode sorted distinct uint64 keys; returns (k, payload)."""
    keys = _as_sorted_keys(sorted_keys, "keys")
    return _rice_encode(keys)


def rice_decode(payload: bytes, count: int, k: int) -> np.ndarray:
    """Decode `count` keys (uint64, strictly increasing); ArtifactError on any inconsistency."""
    if not 0 <= k <= 63:
        raise ArtifactError(f"Rice parameter {k} out of range")
    if count < 0:
        raise ArtifactError("negative key count")
    try:
        return _rice_decode(bytes(payload), count, k)
    except ArtifactError:
        raise
    except (IndexError, MemoryError, OverflowError, ValueError) as exc:
        raise ArtifactError(f"malformed Rice section: {exc.__class__.__name__}") from None


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
    arr = _as_sorted_keys(keys, "keys")
    return _header(SNAPSHOT, CODEC_RICE, 0, version) + _key_section(arr)


def encode_key_delta(
    adds: np.ndarray, removes: np.ndarray, from_version: int, to_version: int
) -> bytes:
    """A delta artifact: keys added and removed between two versions (disjoint sets)."""
    a = _as_sorted_keys(adds, "adds")
    r = _as_sorted_keys(removes, "removes")
    if a.size and r.size and np.intersect1d(a, r, assume_unique=True).size:
        raise ArtifactError("a key cannot be both added and removed in one delta")
    if to_version <= from_version:
        raise ArtifactError("a delta's to_version must be greater than its from_version")
    return _header(DELTA, CODEC_RICE, from_version, to_version) + _key_section(a) + _key_section(r)


def apply_key_delta(base: np.ndarray, adds: np.ndarray, removes: np.ndarray) -> np.ndarray:
    """Sorted result of (base - removes) + adds; refuses a delta that does not fit `base`
    (a remove that is absent or an add already present means the client is on another version)."""
    b = _as_sorted_keys(base, "base")
    a = _as_sorted_keys(adds, "adds")
    r = _as_sorted_keys(removes, "removes")
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
