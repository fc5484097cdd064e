"""The `.lfa` artifact codec (docs/FORMATS.md "Artifact files")."""

from __future__ import annotations

import contextlib
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import rice
from schemas.artifact import (
    CODEC_JSON,
    CODEC_RICE,
    DELTA,
    SNAPSHOT,
    ArtifactError,
    KeyArtifact,
    RecordArtifact,
    apply_key_delta,
    apply_record_delta,
    decode_artifact,
    encode_key_delta,
    encode_key_snapshot,
    encode_record_delta,
    encode_record_snapshot,
)
from schemas.canonical import canonical_json
from schemas.manifest import key_set_digest, record_set_digest
from schemas.rice import rice_decode, rice_encode

U64 = 2**64 - 1


def reference_rice(keys: list[int], k: int) -> bytes:
    """The format spelled out bit by bit: an independent oracle for the vectorised encoder."""
    if not keys:
        return b""
    bits = [format(keys[0], "064b")]
    for prev, cur in zip(keys, keys[1:], strict=False):
        gap = cur - prev - 1
        bits.append("1" * (gap >> k) + "0" + (format(gap & ((1 << k) - 1), f"0{k}b") if k else ""))
    s = "".join(bits)
    s += "0" * (-len(s) % 8)
    return int(s, 2).to_bytes(len(s) // 8, "big")


def arr(values) -> np.ndarray:
    return np.array(sorted(set(values)), dtype=np.uint64)


@st.composite
def key_sets(draw: st.DrawFn) -> list[int]:
    """Sorted distinct u64 sets: random, dense runs, extremes and maximal gaps mixed."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sets(st.integers(0, U64), max_size=60).map(list),
                st.builds(
                    lambda a, n: list(range(a, min(a + n, U64 + 1))),
                    st.integers(0, U64),
                    st.integers(1, 80),
                ),
                st.sampled_from([[0], [U64], [0, U64], [U64 - 1, U64], [2**63 - 1, 2**63]]),
            ),
            max_size=4,
        )
    )
    return sorted({x for p in parts for x in p})


# ------------------------------------------------------------------------- Rice


@settings(max_examples=400, deadline=None)
@given(key_sets())
def test_rice_round_trip_matches_the_spelled_out_format(keys: list[int]) -> None:
    k, payload = rice_encode(arr(keys))
    assert payload == reference_rice(keys, k)
    decoded = rice_decode(payload, len(keys), k)
    assert decoded.dtype == np.uint64
    assert decoded.tolist() == keys


@pytest.mark.parametrize(
    "keys",
    [list(range(1000)) + [U64], [0, *range(2**63, 2**63 + 300), U64], [0, 1, U64 - 1, U64]],
    ids=["dense-then-max", "outliers-both-ends", "extremes"],
)
def test_rice_unary_runs_longer_than_a_word(keys: list[int]) -> None:
    """Skewed gaps make some unary parts exceed 64 bits: the encoder's run-filling path."""
    k, payload = rice_encode(arr(keys))
    gaps = [b - a - 1 for a, b in zip(keys, keys[1:], strict=False)]
    assert max(g >> k for g in gaps) + k + 1 > 64
    assert payload == reference_rice(keys, k)
    assert rice_decode(payload, len(keys), k).tolist() == keys


@settings(max_examples=100, deadline=None)
@given(key_sets(), st.integers(0, 63))
def test_rice_decoder_accepts_any_parameter_within_the_bound(keys: list[int], k: int) -> None:
    m = max(len(keys) - 1, 0)
    unary = sum((b - a - 1) >> k for a, b in zip(keys, keys[1:], strict=False))
    if unary > 10**6:
        return  # too long to build; the bound below refuses such payloads from their length
    payload = reference_rice(keys, k)
    if len(payload) * 8 > 64 + m * (k + 1 + rice.MAX_MEAN_QUOTIENT) + 7:
        with pytest.raises(ArtifactError, match="too long"):
            rice_decode(payload, len(keys), k)
    else:
        assert rice_decode(payload, len(keys), k).tolist() == keys


def _distributions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    dense = np.arange(n // 2, dtype=np.uint64) + np.uint64(2**40)
    return {
        "uniform": np.unique(rng.integers(0, U64, n, dtype=np.uint64, endpoint=True)),
        "narrow": np.unique(rng.integers(2**63, 2**63 + 2**36, n, dtype=np.uint64)),
        "dense_plus_sparse": np.unique(
            np.concatenate(
                [dense, rng.integers(0, U64, n // 2, dtype=np.uint64, endpoint=True),
                 np.array([0, U64], dtype=np.uint64)]
            )
        ),
        "clustered": np.unique(
            (rng.integers(0, 2**20, n, dtype=np.uint64) << np.uint64(44))
            + rng.integers(0, 2**10, n, dtype=np.uint64)
        ),
    }


@pytest.mark.parametrize("name", ["uniform", "narrow", "dense_plus_sparse", "clustered"])
def test_rice_large_sets_use_the_lane_decoder(name: str) -> None:
    keys = _distributions(np.random.default_rng(7), 120_000)[name]
    assert keys.size > rice._LANE_MIN
    k, payload = rice_encode(keys)
    assert np.array_equal(rice_decode(payload, keys.size, k), keys)


def test_rice_lane_decoder_falls_back_when_lanes_do_not_meet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no overlap the speculative lanes rarely meet: the scalar continuation must
    still produce the exact chain."""
    keys = _distributions(np.random.default_rng(8), 80_000)["uniform"]
    k, payload = rice_encode(keys)
    monkeypatch.setattr(rice, "_LANE_OVERLAP", 1)
    monkeypatch.setattr(rice, "_LANE_CODES", 512)
    assert np.array_equal(rice_decode(payload, keys.size, k), keys)


def test_rice_size_is_near_the_entropy_bound() -> None:
    keys = _distributions(np.random.default_rng(9), 200_000)["uniform"]
    _k, payload = rice_encode(keys)
    # log2(2^64 / n) + ~1.5 bits per key; 8 bytes raw.
    assert len(payload) / keys.size < 6.2


# --------------------------------------------------------------------- key files


def test_key_snapshot_round_trip() -> None:
    keys = _distributions(np.random.default_rng(1), 5000)["uniform"]
    data = encode_key_snapshot(keys, 12)
    assert data[:4] == b"LFA1"
    assert data[4] == SNAPSHOT and data[5] == CODEC_RICE
    got = decode_artifact(data)
    assert isinstance(got, KeyArtifact)
    assert (got.type, got.from_version, got.to_version) == (SNAPSHOT, 0, 12)
    assert np.array_equal(got.keys, keys)
    assert got.removes.size == 0 and got.removes.dtype == np.uint64


def test_empty_snapshot() -> None:
    got = decode_artifact(encode_key_snapshot(np.empty(0, dtype=np.uint64), 1))
    assert isinstance(got, KeyArtifact) and got.keys.size == 0


@settings(max_examples=150, deadline=None)
@given(key_sets(), key_sets(), st.data())
def test_delta_round_trip_apply_and_digest(base: list[int], extra: list[int], data) -> None:
    base_set = set(base)
    removes = sorted(data.draw(st.sets(st.sampled_from(base)) if base else st.just(set())))
    adds = sorted(set(extra) - base_set)
    blob = encode_key_delta(arr(adds), arr(removes), 4, 5)
    got = decode_artifact(blob)
    assert isinstance(got, KeyArtifact)
    assert (got.type, got.from_version, got.to_version) == (DELTA, 4, 5)
    assert got.keys.tolist() == adds and got.removes.tolist() == removes
    result = apply_key_delta(arr(base), got.keys, got.removes)
    expected = arr((base_set - set(removes)) | set(adds))
    assert np.array_equal(result, expected)
    assert key_set_digest(result) == key_set_digest(expected)


def test_thousand_change_delta_is_small() -> None:
    rng = np.random.default_rng(3)
    base = np.unique(rng.integers(0, U64, 100_000, dtype=np.uint64, endpoint=True))
    removes = np.sort(rng.choice(base, 500, replace=False))
    adds = np.setdiff1d(np.unique(rng.integers(0, U64, 500, dtype=np.uint64)), base)
    assert len(encode_key_delta(adds, removes, 1, 2)) <= 8 * 1024


def test_apply_key_delta_refuses_a_delta_for_another_version() -> None:
    base = arr([1, 5, 9])
    with pytest.raises(ArtifactError, match="not in the base"):
        apply_key_delta(base, arr([]), arr([2]))
    with pytest.raises(ArtifactError, match="already in the base"):
        apply_key_delta(base, arr([5]), arr([]))
    with pytest.raises(ArtifactError, match="not in the base"):
        apply_key_delta(arr([]), arr([]), arr([U64]))


@pytest.mark.parametrize(
    "bad",
    [np.array([3, 2], dtype=np.uint64), np.array([2, 2], dtype=np.uint64),
     np.array([-1, 2], dtype=np.int64), np.array([[1, 2]], dtype=np.uint64),
     np.array([1.5, 2.0])],
)
def test_encoders_refuse_unsorted_or_invalid_keys(bad: np.ndarray) -> None:
    with pytest.raises(ArtifactError):
        encode_key_snapshot(bad, 1)
    with pytest.raises(ArtifactError):
        rice_encode(bad)


def test_delta_encoder_refuses_overlap_and_bad_versions() -> None:
    with pytest.raises(ArtifactError, match="both added and removed"):
        encode_key_delta(arr([1, 2]), arr([2]), 1, 2)
    with pytest.raises(ArtifactError, match="greater"):
        encode_key_delta(arr([1]), arr([]), 2, 2)
    with pytest.raises(ArtifactError):
        encode_key_snapshot(arr([1]), -1)


# ------------------------------------------------------------------ record files

def _record(gid: str, n: int = 2) -> dict:
    return {"group_id": gid, "action": "review", "member_count": n,
            "categories": ["malicious_complaint"], "first_seen": "2026-11-01T00:00:00Z",
            "last_seen": "2026-11-20T00:00:00Z",
            "indicators": [{"kind": "complaint_text", "value": "0123456789abcdef"}]}


def test_record_snapshot_round_trip_sorted_by_group_id() -> None:
    recs = [_record("g-b2"), _record("g-a1", 3), _record("g-c3")]
    data = encode_record_snapshot(recs, 7)
    assert data[5] == CODEC_JSON
    got = decode_artifact(data)
    assert isinstance(got, RecordArtifact)
    assert [r["group_id"] for r in got.records] == ["g-a1", "g-b2", "g-c3"]
    assert got.records == sorted(recs, key=lambda r: r["group_id"])
    assert record_set_digest(got.records) == record_set_digest(recs)


def test_record_delta_round_trip_and_apply() -> None:
    base = [_record("g-1"), _record("g-2"), _record("g-3")]
    adds = [_record("g-2", 5), _record("g-4")]
    got = decode_artifact(encode_record_delta(adds, ["g-2", "g-1"], 3, 4))
    assert isinstance(got, RecordArtifact)
    assert got.removed_ids == ["g-1", "g-2"]
    result = apply_record_delta(base, got.records, got.removed_ids)
    assert [r["group_id"] for r in result] == ["g-2", "g-3", "g-4"]
    assert result[0]["member_count"] == 5
    with pytest.raises(ArtifactError, match="not in the base"):
        apply_record_delta(base, [], ["g-9"])
    with pytest.raises(ArtifactError, match="already in the base"):
        apply_record_delta(base, [_record("g-3")], [])


def test_record_encoders_refuse_bad_records() -> None:
    with pytest.raises(ArtifactError, match="duplicate"):
        encode_record_snapshot([_record("g-1"), _record("g-1")], 1)
    with pytest.raises(ArtifactError, match="group_id"):
        encode_record_snapshot([{"action": "review"}], 1)
    with pytest.raises(ArtifactError, match="canonical JSON"):
        encode_record_snapshot([{"group_id": "g-1", "score": 0.5}], 1)


# ----------------------------------------------------------------------- attacks

HEADER = struct.Struct("<4sBBHQQ")
SECTION = struct.Struct("<QBQ")


def _key_file(count: int, k: int, payload: bytes, kind: int = SNAPSHOT) -> bytes:
    head = HEADER.pack(b"LFA1", kind, CODEC_RICE, 0, 0 if kind == SNAPSHOT else 1, 2)
    return head + SECTION.pack(count, k, len(payload)) + payload


def _json_file(records_bytes: bytes, count: int) -> bytes:
    return (HEADER.pack(b"LFA1", SNAPSHOT, CODEC_JSON, 0, 0, 2)
            + SECTION.pack(count, 0, len(records_bytes)) + records_bytes)


def _bits(s: str) -> bytes:
    s += "0" * (-len(s) % 8)
    return int(s, 2).to_bytes(len(s) // 8, "big")


VALID = encode_key_snapshot(arr([3, 70, 2**40, U64]), 2)

ATTACKS = {
    "empty": b"",
    "bad magic": b"LFA2" + VALID[4:],
    "bad type": VALID[:4] + b"\x07" + VALID[5:],
    "bad codec": VALID[:5] + b"\x09" + VALID[6:],
    "reserved set": VALID[:6] + b"\x01\x00" + VALID[8:],
    "snapshot with from_version": HEADER.pack(b"LFA1", 1, 1, 0, 5, 6) + VALID[24:],
    "delta going backwards": HEADER.pack(b"LFA1", 2, 1, 0, 6, 6) + VALID[24:] + VALID[24:],
    "huge count": _key_file(2**63, 10, b"\x00" * 16),
    "count over limit": _key_file(50_000_001, 10, b"\x00" * 16),
    "length beyond data": VALID[:24] + SECTION.pack(4, VALID[32], 2**40) + VALID[41:],
    "payload short for count": _key_file(1000, 8, b"\x00" * 40),
    "trailing bytes": VALID + b"\x00",
    "trailing garbage in payload": _key_file(2, 0, reference_rice([1, 2], 0) + b"\xff"),
    "non-zero padding": _key_file(2, 0, reference_rice([1, 2], 0)[:-1] + b"\x01"),
    "rice parameter 64": _key_file(2, 64, b"\x00" * 17),
    "overflow": _key_file(2, 0, reference_rice([U64 - 1, U64], 0)[:8] + b"\xc0"),
    "gap wider than 64 bits": _key_file(2, 62, _bits(format(5, "064b") + "11110" + "0" * 62)),
    "overflow large k": _key_file(2, 62, _bits(format(U64 - 5, "064b") + "1110" + "0" * 62)),
    "unary past the end": _key_file(2, 0, b"\x00" * 8 + b"\xff" * 4),
    "no terminators": _key_file(40_000, 0, b"\xff" * 8 + b"\xff" * 5000),
    "json not zlib": _json_file(b"not zlib", 1),
    "json wrong count": _json_file(zlib.compress(canonical_json([_record("g-1")])), 2),
    "json unsorted": _json_file(zlib.compress(canonical_json([_record("g-2"), _record("g-1")])), 2),
    "json not records": _json_file(zlib.compress(b'[1]'), 1),
    "json trailing zlib data": _json_file(zlib.compress(b"[]") + b"x", 0),
    "json nested deeply": _json_file(zlib.compress(b"[" * 100_000 + b"]" * 100_000), 1),
}


REASONS = {
    "empty": "truncated", "bad magic": "bad magic", "bad type": "type", "bad codec": "codec",
    "reserved set": "reserved", "snapshot with from_version": "from_version",
    "delta going backwards": "greater", "huge count": "limit", "count over limit": "limit",
    "length beyond data": "truncated", "payload short for count": "too short",
    "trailing bytes": "trailing", "trailing garbage in payload": "trailing",
    "non-zero padding": "padding", "rice parameter 64": "out of range",
    "overflow": "overflow", "gap wider than 64 bits": "overflow", "overflow large k": "overflow",
    "unary past the end": "too short", "no terminators": "too short",
    "json not zlib": "zlib", "json wrong count": "count", "json unsorted": "sorted",
    "json not records": "group_id", "json trailing zlib data": "complete zlib",
    "json nested deeply": "JSON",
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_hostile_artifacts_raise_artifact_error(name: str) -> None:
    with pytest.raises(ArtifactError, match=REASONS[name]):
        decode_artifact(ATTACKS[name])


def test_zlib_bomb_is_refused() -> None:
    z = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    body = z.compress(b"[") + b"".join(z.compress(chunk) for _ in range(300)) + z.compress(b"]")
    with pytest.raises(ArtifactError, match="within limits"):
        decode_artifact(_json_file(body + z.flush(), 0))


def test_overflow_input_really_encodes_an_overflow() -> None:
    """Guards the attack list: the crafted payload decodes once the first key is lowered."""
    payload = reference_rice([U64 - 1, U64], 0)[:8] + b"\xc0"
    assert rice_decode(b"\x00" * 7 + b"\x01" + payload[8:], 2, 0).tolist() == [1, 4]


def test_count_is_checked_before_allocating() -> None:
    with pytest.raises(ArtifactError, match="limit"):
        decode_artifact(_key_file(1001, 0, b"\x00" * 8), max_entries=1000)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncated_or_mutated_artifacts_fail_cleanly(data: st.DataObject) -> None:
    keys = arr(data.draw(st.sets(st.integers(0, U64), min_size=1, max_size=40)))
    blob = data.draw(st.sampled_from([
        encode_key_snapshot(keys, 3),
        encode_key_delta(keys, arr([]), 3, 4),
        encode_record_snapshot([_record("g-1"), _record("g-2")], 3),
    ]))
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(ArtifactError):
        decode_artifact(blob[:cut])
    pos = data.draw(st.integers(0, len(blob) - 1))
    mutated = bytearray(blob)
    mutated[pos] ^= data.draw(st.integers(1, 255))
    try:
        got = decode_artifact(bytes(mutated))
    except ArtifactError:
        return
    assert isinstance(got, KeyArtifact | RecordArtifact)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_another_exception(blob: bytes) -> None:
    for data in (blob, b"LFA1\x01\x01\x00\x00" + bytes(16) + blob):
        with contextlib.suppress(ArtifactError):
            decode_artifact(data)
