"""Signed envelopes: `verified_signers` returns a set or raises EnvelopeError, nothing else.

Envelopes come off the network, so every JSON-ish value -- including floats,
NaN, lone surrogates and deep nesting that have no canonical form -- must be
refused with the one exception callers map to their own specific error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.canonical import canonical_json
from schemas.envelope import (
    MAX_SIGNED_DEPTH,
    EnvelopeError,
    keyid_of,
    sign_envelope,
    verified_signers,
    verify_envelope,
)

KEY = Ed25519PrivateKey.generate()
TRUSTED = {keyid_of(KEY): KEY.public_key()}

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6), st.sampled_from(["\ud800", "\udfff", "a\udc80b", "é", "数"]),
)
_keys = st.one_of(st.text(max_size=4), st.sampled_from(["signed", "signatures", "keyid", "sig"]))
json_ish = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=25,
)
_signature = st.fixed_dictionaries({"keyid": st.one_of(st.just(keyid_of(KEY)), json_ish),
                                    "sig": json_ish})


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _canonical_or_none(value: Any) -> bytes | None:
    try:
        return canonical_json(value)
    except (ValueError, TypeError, RecursionError):
        return None


@settings(max_examples=500, deadline=None)
@given(envelope=st.one_of(
    json_ish,
    st.fixed_dictionaries({"signed": json_ish, "signatures": json_ish}),
    st.fixed_dictionaries({"signed": st.dictionaries(_keys, json_ish, max_size=4),
                           "signatures": st.lists(st.one_of(_signature, json_ish), max_size=3)}),
))
def test_verified_signers_returns_or_raises_envelope_error(envelope: Any) -> None:
    try:
        good = verified_signers(envelope, TRUSTED)
    except EnvelopeError:
        return
    assert good <= set(TRUSTED)


@settings(max_examples=300, deadline=None)
@given(signed=st.dictionaries(_keys, json_ish, max_size=5))
def test_signed_iff_canonical(signed: dict[str, Any]) -> None:
    """Canonicalisable content signs and verifies; the rest is an EnvelopeError, not a crash."""
    message = _canonical_or_none(signed)
    forged = {"signed": signed, "signatures": [{"keyid": keyid_of(KEY), "sig": "AAAA"}]}
    if message is None:
        with pytest.raises(EnvelopeError):
            verified_signers(forged, TRUSTED)
        return
    envelope = sign_envelope(signed, KEY)
    assert verified_signers(envelope, TRUSTED) == {keyid_of(KEY)}
    assert verified_signers(forged, TRUSTED) == set()
    # the wire round trip keeps the signature valid
    assert verify_envelope(json.loads(json.dumps(envelope)), TRUSTED) == json.loads(
        json.dumps(signed))


@pytest.mark.parametrize("value", [
    1.5, math.nan, math.inf, -math.inf, "\ud800", {"x": ["\udfff"]}, {1: "int key"},
    [0.0], b"bytes", {"set"},
])
def test_values_without_canonical_form(value: Any) -> None:
    envelope = {"signed": {"a": value}, "signatures": []}
    with pytest.raises(EnvelopeError):
        verified_signers(envelope, TRUSTED)


def test_parsed_hostile_json() -> None:
    """The exact bodies from the review, after `json.loads` as the SDK parses them."""
    for text in ('{"signed":{"a":1.5},"signatures":[]}',
                 '{"signed":{"a":NaN},"signatures":[]}',
                 '{"signed":{"a":Infinity},"signatures":[]}',
                 '{"signed":{"a":"\\ud800"},"signatures":[]}'):
        with pytest.raises(EnvelopeError):
            verified_signers(json.loads(text), TRUSTED)


def test_depth_limit() -> None:
    ok = sign_envelope(_nested(MAX_SIGNED_DEPTH), KEY)
    assert verified_signers(ok, TRUSTED) == {keyid_of(KEY)}
    for depth in (MAX_SIGNED_DEPTH + 1, 5000, 100_000):
        with pytest.raises(EnvelopeError):
            verified_signers({"signed": _nested(depth), "signatures": []}, TRUSTED)


def test_deep_list_inside_signed() -> None:
    value: Any = []
    for _ in range(10_000):
        value = [value]
    with pytest.raises(EnvelopeError):
        verified_signers({"signed": {"a": value}, "signatures": []}, TRUSTED)


@pytest.mark.parametrize("envelope", [
    None, 1, "x", [], {"signed": {}}, {"signed": [], "signatures": []},
    {"signed": {}, "signatures": {}}, {"signed": {}, "signatures": [1]},
    {"signed": {}, "signatures": [{"keyid": 1, "sig": "x"}]},
    {"signed": {}, "signatures": [], "extra": 1},
])
def test_malformed_envelopes(envelope: Any) -> None:
    with pytest.raises(EnvelopeError):
        verified_signers(envelope, TRUSTED)


def test_bad_signature_text_is_not_a_signer() -> None:
    envelope = sign_envelope({"a": 1}, KEY)
    for sig in ("é" * 86, "\ud800", "!!", ""):
        envelope["signatures"][0]["sig"] = sig
        assert verified_signers(envelope, TRUSTED) == set()
