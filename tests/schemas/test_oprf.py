"""RFC 9497 OPRF/VOPRF over ristretto255-SHA512: every Appendix A vector, plus the attacks.

The vectors (tests/vectors/rfc9497_ristretto255_sha512.json) are cfrg's own
`allVectors.json` entries for this suite in modes 0x00 and 0x01, unchanged; the
expand_message_xmd(SHA-512) vectors of RFC 9380 K.3 check the hashing beneath. The
property tests are written as what a hostile peer does: a hub that evaluates under
another key than the one it published (to tag a client), a hub or network that
swaps elements, and clients that send the identity or malformed bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pysodium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.enums import IndicatorKind
from schemas.indicators import HMAC_KINDS, InvalidIndicator, check_hashed_value
from schemas.oprf import (
    EPOCH_MODE,
    MAX_BATCH,
    MAX_INPUT_BYTES,
    ORDER,
    BatchSizeError,
    DeserializeError,
    IdentityElementError,
    InvalidElementError,
    InvalidInputError,
    Mode,
    OprfClient,
    OprfError,
    OprfServer,
    VerifyError,
    VoprfClient,
    VoprfServer,
    context_string,
    derive_key_pair,
    evaluate_indicator,
    expand_message_xmd,
    generate_key_pair,
    hash_to_group,
    indicator_input,
    indicator_value,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "rfc9497_ristretto255_sha512.json")
    .read_text())
SUITES: list[dict[str, Any]] = VECTORS["suites"]
IDENTITY = bytes(32)


def _split(field: str) -> list[bytes]:
    """Batch vectors list their values comma-separated (RFC 9497 Appendix A)."""
    return [bytes.fromhex(part) for part in field.split(",")]


def _cases(mode: Mode) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(suite, vec) for suite in SUITES if suite["mode"] == mode
            for vec in suite["vectors"]]


XMD = json.loads((Path(__file__).resolve().parents[1] / "vectors"
                  / "rfc9380_expand_message_xmd_sha512.json").read_text())


@pytest.mark.parametrize("vec", XMD["tests"],
                         ids=lambda v: f"len{int(v['len_in_bytes'], 16)}-msg{len(v['msg'])}")
def test_expand_message_xmd_sha512_vectors(vec: dict[str, Any]) -> None:
    """RFC 9380 K.3: single-block (32 bytes) and multi-block (128 bytes) outputs."""
    out = expand_message_xmd(vec["msg"].encode(), XMD["DST"].encode(),
                             int(vec["len_in_bytes"], 16))
    assert out.hex() == vec["uniform_bytes"]


def test_the_vector_file_holds_every_vector_of_both_modes() -> None:
    """Appendix A.1.1 has 2 OPRF vectors, A.1.2 has 3 VOPRF vectors (one a batch of 2)."""
    assert {(s["identifier"], s["mode"]) for s in SUITES} == {
        ("ristretto255-SHA512", 0), ("ristretto255-SHA512", 1)}
    assert len(_cases(Mode.OPRF)) == 2
    assert [v["Batch"] for _, v in _cases(Mode.VOPRF)] == [1, 1, 2]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"mode{s['mode']}")
def test_context_and_derive_key_pair(suite: dict[str, Any]) -> None:
    mode = Mode(suite["mode"])
    assert b"HashToGroup-" + context_string(mode) == bytes.fromhex(suite["groupDST"])
    pair = derive_key_pair(bytes.fromhex(suite["seed"]), bytes.fromhex(suite["keyInfo"]), mode)
    assert pair.private_key.hex() == suite["skSm"]
    if "pkSm" in suite:
        assert pair.public_key.hex() == suite["pkSm"]


@pytest.mark.parametrize(("suite", "vec"), _cases(Mode.OPRF), ids=["vector1", "vector2"])
def test_oprf_vector(suite: dict[str, Any], vec: dict[str, Any]) -> None:
    (data,), (blind,) = _split(vec["Input"]), _split(vec["Blind"])
    server = OprfServer(bytes.fromhex(suite["skSm"]))
    client = OprfClient()
    blinded = client.blind(data, blind)
    assert blinded.element.hex() == vec["BlindedElement"]
    evaluated = server.blind_evaluate(blinded.element)
    assert evaluated.hex() == vec["EvaluationElement"]
    assert client.finalize(data, blind, evaluated).hex() == vec["Output"]
    assert server.evaluate(data).hex() == vec["Output"]


@pytest.mark.parametrize(("suite", "vec"), _cases(Mode.VOPRF),
                         ids=["vector1", "vector2", "vector3-batch2"])
def test_voprf_vector(suite: dict[str, Any], vec: dict[str, Any]) -> None:
    inputs, blinds = _split(vec["Input"]), _split(vec["Blind"])
    server = VoprfServer(bytes.fromhex(suite["skSm"]))
    assert server.public_key.hex() == suite["pkSm"]
    client = VoprfClient(bytes.fromhex(suite["pkSm"]))
    blinded = [client.blind(x, r).element for x, r in zip(inputs, blinds, strict=True)]
    assert [b.hex() for b in blinded] == vec["BlindedElement"].split(",")
    r = bytes.fromhex(vec["Proof"]["r"])
    evaluated, proof = server.blind_evaluate_batch(blinded, r)
    assert [e.hex() for e in evaluated] == vec["EvaluationElement"].split(",")
    assert proof.hex() == vec["Proof"]["proof"]
    outputs = client.finalize_batch(inputs, blinds, evaluated, blinded, proof)
    assert [o.hex() for o in outputs] == vec["Output"].split(",")
    assert [server.evaluate(x).hex() for x in inputs] == vec["Output"].split(",")
    if len(inputs) == 1:
        single, single_proof = server.blind_evaluate(blinded[0], r)
        assert (single.hex(), single_proof.hex()) == (vec["EvaluationElement"],
                                                      vec["Proof"]["proof"])
        assert client.finalize(inputs[0], blinds[0], single, blinded[0],
                               single_proof).hex() == vec["Output"]


# ------------------------------------------------------------------- properties

inputs = st.binary(max_size=80)
seeds = st.binary(min_size=32, max_size=32)
modes = st.sampled_from(list(Mode))


@settings(max_examples=40, deadline=None)
@given(data=inputs, seed=seeds, mode=modes)
def test_blinded_evaluation_equals_the_prf(data: bytes, seed: bytes, mode: Mode) -> None:
    """Whatever the blind, the client ends with F(skS, input): what the key holder computes."""
    pair = derive_key_pair(seed, b"lianfang", mode)
    if mode is Mode.OPRF:
        server, client = OprfServer(pair.private_key), OprfClient()
        blinded = client.blind(data)
        out = client.finalize(data, blinded.blind, server.blind_evaluate(blinded.element))
        expected = server.evaluate(data)
    else:
        vserver, vclient = VoprfServer(pair.private_key), VoprfClient(pair.public_key)
        blinded = vclient.blind(data)
        evaluated, proof = vserver.blind_evaluate(blinded.element)
        out = vclient.finalize(data, blinded.blind, evaluated, blinded.element, proof)
        expected = vserver.evaluate(data)
    assert out == expected
    assert len(out) == 64


@settings(max_examples=25, deadline=None)
@given(data=st.lists(inputs, min_size=1, max_size=6))
def test_batch_outputs_equal_the_prf(data: list[bytes]) -> None:
    """One proof for a whole batch; each output is the PRF of its own input, in order."""
    pair = generate_key_pair()
    server, client = VoprfServer(pair.private_key), VoprfClient(pair.public_key)
    blinded = [client.blind(x) for x in data]
    elements = [b.element for b in blinded]
    evaluated, proof = server.blind_evaluate_batch(elements)
    outputs = client.finalize_batch(data, [b.blind for b in blinded], evaluated, elements, proof)
    assert outputs == [server.evaluate(x) for x in data]


@settings(max_examples=25, deadline=None)
@given(data=inputs)
def test_the_server_sees_a_fresh_element_each_time(data: bytes) -> None:
    """Two blindings of the same input are unrelated elements: the hub cannot link queries."""
    client = OprfClient()
    first, second = client.blind(data), client.blind(data)
    assert first.element != second.element
    assert first.element != hash_to_group(data, Mode.OPRF)


@settings(max_examples=25, deadline=None)
@given(data=inputs, seed=seeds)
def test_modes_are_domain_separated(data: bytes, seed: bytes) -> None:
    key = derive_key_pair(seed, b"", Mode.OPRF).private_key
    assert OprfServer(key).evaluate(data) != VoprfServer(key).evaluate(data)


@settings(max_examples=25, deadline=None)
@given(data=st.lists(inputs, min_size=1, max_size=4))
def test_attack_hub_evaluates_under_another_key_than_published(data: list[bytes]) -> None:
    """A hub that tags a client with a per-client key cannot make the proof verify."""
    published, tagging = generate_key_pair(), generate_key_pair()
    client = VoprfClient(published.public_key)
    blinded = [client.blind(x) for x in data]
    elements = [b.element for b in blinded]
    evaluated, proof = VoprfServer(tagging.private_key).blind_evaluate_batch(elements)
    with pytest.raises(VerifyError):
        client.finalize_batch(data, [b.blind for b in blinded], evaluated, elements, proof)


@settings(max_examples=25, deadline=None)
@given(data=st.lists(inputs, min_size=2, max_size=4, unique=True), which=st.integers(0, 3))
def test_attack_one_element_of_a_batch_evaluated_under_another_key(data: list[bytes],
                                                                   which: int) -> None:
    """Swapping a single evaluation in a batch (real proof kept) is caught."""
    pair, other = generate_key_pair(), generate_key_pair()
    client = VoprfClient(pair.public_key)
    blinded = [client.blind(x) for x in data]
    elements = [b.element for b in blinded]
    evaluated, proof = VoprfServer(pair.private_key).blind_evaluate_batch(elements)
    i = which % len(data)
    evaluated[i] = OprfServer(other.private_key).blind_evaluate(elements[i])
    with pytest.raises(VerifyError):
        client.finalize_batch(data, [b.blind for b in blinded], evaluated, elements, proof)


@settings(max_examples=25, deadline=None)
@given(data=st.lists(inputs, min_size=2, max_size=3, unique=True))
def test_attack_reordered_evaluations(data: list[bytes]) -> None:
    pair = generate_key_pair()
    client = VoprfClient(pair.public_key)
    blinded = [client.blind(x) for x in data]
    elements = [b.element for b in blinded]
    evaluated, proof = VoprfServer(pair.private_key).blind_evaluate_batch(elements)
    with pytest.raises(VerifyError):
        client.finalize_batch(data, [b.blind for b in blinded], evaluated[::-1], elements, proof)


@settings(max_examples=40, deadline=None)
@given(data=inputs, position=st.integers(0, 63), bit=st.integers(0, 7))
def test_attack_tampered_proof(data: bytes, position: int, bit: int) -> None:
    """Any flipped bit of the proof is refused: not canonical, or not verifying."""
    pair = generate_key_pair()
    client = VoprfClient(pair.public_key)
    blinded = client.blind(data)
    evaluated, proof = VoprfServer(pair.private_key).blind_evaluate(blinded.element)
    tampered = bytearray(proof)
    tampered[position] ^= 1 << bit
    with pytest.raises((VerifyError, DeserializeError)):
        client.finalize(data, blinded.blind, evaluated, blinded.element, bytes(tampered))


@pytest.mark.parametrize("forged", [bytes(64), bytes(32) + bytes([1]) + bytes(31),
                                    bytes([1]) + bytes(63)], ids=["c=s=0", "c=0", "s=0"])
def test_attack_degenerate_proof_scalars(forged: bytes) -> None:
    """Zero challenge or response puts the identity into the transcript: still a VerifyError."""
    pair = generate_key_pair()
    client = VoprfClient(pair.public_key)
    blinded = client.blind(b"x")
    evaluated = OprfServer(generate_key_pair().private_key).blind_evaluate(blinded.element)
    with pytest.raises(VerifyError):
        client.finalize(b"x", blinded.blind, evaluated, blinded.element, forged)


def test_attack_proof_replayed_from_another_request() -> None:
    pair = generate_key_pair()
    client, server = VoprfClient(pair.public_key), VoprfServer(pair.private_key)
    old = client.blind(b"+8613800000000")
    _, old_proof = server.blind_evaluate(old.element)
    new = client.blind(b"+8613900000000")
    evaluated = OprfServer(generate_key_pair().private_key).blind_evaluate(new.element)
    with pytest.raises(VerifyError):
        client.finalize(b"+8613900000000", new.blind, evaluated, new.element, old_proof)


def test_attack_identity_element_is_refused_everywhere() -> None:
    """The identity would make skS * B independent of the key (and of the input)."""
    pair = generate_key_pair()
    with pytest.raises(IdentityElementError):
        OprfServer(pair.private_key).blind_evaluate(IDENTITY)
    with pytest.raises(IdentityElementError):
        VoprfServer(pair.private_key).blind_evaluate_batch([IDENTITY])
    blinded = OprfClient().blind(b"x")
    with pytest.raises(IdentityElementError):
        OprfClient().finalize(b"x", blinded.blind, IDENTITY)
    with pytest.raises(IdentityElementError):
        VoprfClient(IDENTITY)
    vclient = VoprfClient(pair.public_key)
    vb = vclient.blind(b"x")
    _, proof = VoprfServer(pair.private_key).blind_evaluate(vb.element)
    with pytest.raises(IdentityElementError):
        vclient.finalize(b"x", vb.blind, IDENTITY, vb.element, proof)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(min_size=32, max_size=32))
def test_arbitrary_bytes_are_evaluated_only_when_a_valid_element(raw: bytes) -> None:
    """Random 32-byte strings are mostly not ristretto255 encodings; those are refused."""
    server = OprfServer(generate_key_pair().private_key)
    if raw == IDENTITY:
        with pytest.raises(IdentityElementError):
            server.blind_evaluate(raw)
    elif not raw[31] & 0x80 and pysodium.crypto_core_ristretto255_is_valid_point(raw):
        assert len(server.blind_evaluate(raw)) == 32
    else:
        with pytest.raises(InvalidElementError):
            server.blind_evaluate(raw)


@settings(max_examples=50, deadline=None)
@given(data=inputs)
def test_non_canonical_encodings_are_refused(data: bytes) -> None:
    """The top bit of a ristretto255 encoding is always 0, and s must be "non-negative".

    libsodium 1.0.18's decoder ignores the top bit, hence the explicit check in
    schemas/oprf.py that this test would catch missing.
    """
    element = hash_to_group(data, Mode.OPRF)
    server = OprfServer(generate_key_pair().private_key)
    high_bit = element[:31] + bytes([element[31] | 0x80])
    with pytest.raises(InvalidElementError):
        server.blind_evaluate(high_bit)
    negated_s = (2**255 - 19 - int.from_bytes(element, "little")).to_bytes(32, "little")
    with pytest.raises(InvalidElementError):
        server.blind_evaluate(negated_s)


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "00" * 32, None])
def test_wrong_types_and_lengths_are_deserialize_errors(bad: object) -> None:
    server = OprfServer(generate_key_pair().private_key)
    with pytest.raises(DeserializeError):
        server.blind_evaluate(bad)  # type: ignore[arg-type]


def test_non_canonical_scalars_are_refused() -> None:
    """Scalars >= L (RFC 9497 §4.1) in a key, a blind or a proof are deserialize errors."""
    too_big = ORDER.to_bytes(32, "little")
    with pytest.raises(DeserializeError):
        OprfServer(too_big)
    with pytest.raises(DeserializeError):
        OprfServer(bytes(32))
    with pytest.raises(DeserializeError):
        OprfClient().blind(b"x", too_big)
    pair = generate_key_pair()
    client = VoprfClient(pair.public_key)
    blinded = client.blind(b"x")
    evaluated, proof = VoprfServer(pair.private_key).blind_evaluate(blinded.element)
    for forged in (too_big + proof[32:], proof[:32] + too_big, proof[:63]):
        with pytest.raises(DeserializeError):
            client.finalize(b"x", blinded.blind, evaluated, blinded.element, forged)


def test_input_limit() -> None:
    """Inputs must be shorter than 2^16 - 1 bytes (RFC 9497 §5.1)."""
    server = OprfServer(generate_key_pair().private_key)
    assert len(server.evaluate(bytes(MAX_INPUT_BYTES))) == 64
    with pytest.raises(InvalidInputError):
        OprfClient().blind(bytes(MAX_INPUT_BYTES + 1))
    with pytest.raises(InvalidInputError):
        server.evaluate(bytes(MAX_INPUT_BYTES + 1))
    with pytest.raises(InvalidInputError):
        OprfClient().blind("+8613800000000")  # type: ignore[arg-type]


def test_batch_sizes() -> None:
    pair = generate_key_pair()
    server, client = VoprfServer(pair.private_key), VoprfClient(pair.public_key)
    with pytest.raises(BatchSizeError):
        server.blind_evaluate_batch([])
    element = client.blind(b"x").element
    with pytest.raises(BatchSizeError):
        server.blind_evaluate_batch([element] * (MAX_BATCH + 1))
    blinded = client.blind(b"x")
    evaluated, proof = server.blind_evaluate(blinded.element)
    with pytest.raises(BatchSizeError):
        client.finalize_batch([b"x"], [blinded.blind], [evaluated, evaluated],
                              [blinded.element], proof)
    with pytest.raises(BatchSizeError):
        client.finalize_batch([b"x", b"y"], [blinded.blind], [evaluated], [blinded.element],
                              proof)


def test_every_failure_is_an_oprf_error() -> None:
    for error in (BatchSizeError, DeserializeError, IdentityElementError, InvalidElementError,
                  InvalidInputError, VerifyError):
        assert issubclass(error, OprfError)


def test_secrets_stay_out_of_reprs() -> None:
    pair = generate_key_pair()
    blinded = OprfClient().blind(b"+8613800000000")
    for obj, secret in ((pair, pair.private_key), (OprfServer(pair.private_key), pair.private_key),
                        (VoprfServer(pair.private_key), pair.private_key),
                        (blinded, blinded.blind)):
        assert secret.hex() not in repr(obj)
        assert repr(secret) not in repr(obj)


# ------------------------------------------------ indicator values of OPRF epochs

EXAMPLE_SEED = bytes([0xA3]) * 32
EXAMPLE_INFO = b"lianfang OPRF epoch example"
EXAMPLE_VALUE = "68a2f98dfb723d0a2e5510538f77a2757f20bf637b68a2a7781d95989d72bacf"
"""The worked example of docs/FORMATS.md ("OPRF epochs"): phone +8613800138000."""


def test_the_documented_example_value() -> None:
    pair = derive_key_pair(EXAMPLE_SEED, EXAMPLE_INFO, EPOCH_MODE)
    assert pair.public_key.hex() == (
        "088497be112d484052e9a5771491337f5bf79b6f2e519273243c4576bc603953")
    data = indicator_input(IndicatorKind.PHONE, "+8613800138000")
    assert data == b"phone:+8613800138000"
    assert hash_to_group(data, EPOCH_MODE).hex() == (
        "8ceca80e30a25bc344241cdd9d54206c75cd8cc4c405d7155aa3fff27b850474")
    assert evaluate_indicator("phone", "+8613800138000", pair.private_key) == EXAMPLE_VALUE
    # The byte layout FORMATS.md spells out, recomputed from the unblinded element N.
    n = OprfServer(pair.private_key).blind_evaluate(hash_to_group(data, EPOCH_MODE))
    assert n.hex() == "8a49a52067eeb61e1f5a06072cc5804ebd4a6a1eddc3f49a43bf351018750a51"
    framed = b"\x00\x14" + data + b"\x00\x20" + n + b"Finalize"
    assert hashlib.sha512(framed).hexdigest()[:64] == EXAMPLE_VALUE
    assert int(EXAMPLE_VALUE[:16], 16) == 7539863114375904522


canonical_forms = st.text(min_size=1, max_size=40)
hmac_kinds = st.sampled_from(sorted(HMAC_KINDS))


@settings(max_examples=30, deadline=None)
@given(kind=hmac_kinds, canonical=canonical_forms)
def test_blinded_screener_and_key_holder_get_the_same_value(kind: IndicatorKind,
                                                            canonical: str) -> None:
    """The three ways to a value (screener blinded, member batch, key holder) agree, and
    the value has the wire form the hub already accepts for the kind."""
    pair = generate_key_pair()
    server, client = VoprfServer(pair.private_key), VoprfClient(pair.public_key)
    data = indicator_input(kind, canonical)
    blinded = client.blind(data)
    evaluated, proof = server.blind_evaluate(blinded.element)
    value = indicator_value(client.finalize(data, blinded.blind, evaluated, blinded.element,
                                            proof))
    assert value == evaluate_indicator(kind, canonical, pair.private_key)
    check_hashed_value(kind, value)
    assert value == value.lower() and len(value) == 64


@settings(max_examples=20, deadline=None)
@given(canonical=canonical_forms)
def test_epochs_and_kinds_give_unrelated_values(canonical: str) -> None:
    one, two = generate_key_pair(), generate_key_pair()
    assert (evaluate_indicator("phone", canonical, one.private_key)
            != evaluate_indicator("phone", canonical, two.private_key))
    assert (evaluate_indicator("phone", canonical, one.private_key)
            != evaluate_indicator("email", canonical, one.private_key))


def test_indicator_input_refusals() -> None:
    with pytest.raises(InvalidIndicator):
        indicator_input("complaint_text", "x")
    with pytest.raises(InvalidIndicator):
        indicator_input("passport", "x")
    with pytest.raises(InvalidIndicator):
        indicator_input("phone", "")
    with pytest.raises(InvalidIndicator):
        indicator_input("device", "x" * MAX_INPUT_BYTES)
    with pytest.raises(DeserializeError):
        indicator_value(bytes(32))
