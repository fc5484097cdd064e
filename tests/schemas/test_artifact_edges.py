"""Explicit artifact round trips at the edges issue 7 names: empty, one key, maximal gaps.

tests/schemas/test_artifact.py reaches these through Hypothesis strategies (which may
or may not draw them on a given run); here every edge runs every time, through the
full artifact (header + sections), not only the Rice payload.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.artifact import (
    apply_key_delta,
    decode_artifact,
    encode_key_delta,
    encode_key_snapshot,
)
from schemas.rice import rice_decode, rice_encode

U64 = 2**64 - 1
EDGES = {
    "empty": [],
    "zero": [0],
    "max": [U64],
    "maximal gap": [0, U64],
    "minimal gap at the top": [U64 - 1, U64],
    "maximal gap then dense": [0, U64 - 2, U64 - 1, U64],
    "two maximal half gaps": [0, 2**63, U64],
}


def arr(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


@pytest.mark.parametrize("keys", list(EDGES.values()), ids=list(EDGES))
def test_snapshot_round_trip_at_the_edges(keys: list[int]) -> None:
    art = decode_artifact(encode_key_snapshot(arr(keys), 7))
    assert art.keys.dtype == np.uint64
    assert art.keys.tolist() == keys
    assert art.to_version == 7 and art.removes.size == 0


@pytest.mark.parametrize("keys", list(EDGES.values()), ids=list(EDGES))
def test_rice_payload_size_at_the_edges(keys: list[int]) -> None:
    k, payload = rice_encode(arr(keys))
    if not keys:
        assert payload == b""
    elif len(keys) == 1:
        assert payload == keys[0].to_bytes(8, "big")  # one key: just its 64 bits
    assert rice_decode(payload, len(keys), k).tolist() == keys


@pytest.mark.parametrize(
    ("base", "adds", "removes"),
    [
        ([], [], []),
        ([], [U64], []),
        ([0], [], [0]),
        ([0], [U64], [0]),
        ([0, U64], [1], [U64]),
        ([5], [0, U64], []),
    ],
    ids=["all empty", "add max to empty", "remove only key", "swap extremes",
         "maximal gap removed", "extremes added"],
)
def test_delta_round_trip_at_the_edges(
    base: list[int], adds: list[int], removes: list[int]
) -> None:
    art = decode_artifact(encode_key_delta(arr(adds), arr(removes), 1, 2))
    assert art.keys.tolist() == adds and art.removes.tolist() == removes
    result = apply_key_delta(arr(base), art.keys, art.removes)
    assert result.tolist() == sorted((set(base) - set(removes)) | set(adds))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, U64), st.integers(0, U64))
def test_any_single_gap_round_trips(a: int, b: int) -> None:
    """Every two-key set, i.e. every possible gap from 0 to 2^64 - 2."""
    keys = sorted({a, b})
    assert decode_artifact(encode_key_snapshot(arr(keys), 1)).keys.tolist() == keys
