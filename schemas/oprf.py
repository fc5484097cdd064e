"""RFC 9497 OPRF (mode 0x00) and VOPRF (mode 0x01), suite ristretto255-SHA512 (issue 20).

Why an oblivious PRF: with keyed hashing every screener that hashes locally holds
the phone key, and whoever extracts it reverses a phone feed by enumeration in
minutes. With an OPRF the client blinds its input, the hub evaluates with a key it
never hands out, and the client unblinds: the hub learns nothing about the input,
the client learns one output per evaluation, and the hub can count evaluations.
VOPRF adds a DLEQ proof (RFC 9497 §2.2) that the hub used the key it published for
the epoch, so it cannot tag clients with per-client keys.

The group operations are libsodium's (`crypto_core_ristretto255_*`,
`crypto_scalarmult_ristretto255`) through pysodium; everything else — contexts,
hash-to-group and hash-to-scalar (RFC 9380 `expand_message_xmd` with SHA-512),
key derivation, the batched DLEQ proof — follows the RFC's pseudocode step by step
so that the Appendix A test vectors check it (tests/schemas/test_oprf.py).

Elements, scalars and proofs are passed as their serialized bytes (RFC 9497 §5.2
allows this): elements and scalars 32 bytes, proofs 64 bytes (c || s), outputs
64 bytes. Every element received from a peer is validated (canonical encoding,
not the identity, §3.3); failures raise an `OprfError` subclass named for the
failure. Private keys and blinds never appear in a `repr`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import pysodium

from schemas.enums import IndicatorKind
from schemas.indicators import HMAC_KINDS, InvalidIndicator

__all__ = [
    "ELEMENT_BYTES",
    "MAX_BATCH",
    "MAX_INPUT_BYTES",
    "OUTPUT_BYTES",
    "PROOF_BYTES",
    "SCALAR_BYTES",
    "SUITE_ID",
    "BatchSizeError",
    "Blinded",
    "EPOCH_MODE",
    "DeriveKeyPairError",
    "DeserializeError",
    "IdentityElementError",
    "InvalidElementError",
    "InvalidInputError",
    "KeyPair",
    "Mode",
    "OprfClient",
    "OprfError",
    "OprfServer",
    "VerifyError",
    "VoprfClient",
    "VoprfServer",
    "context_string",
    "deserialize_element",
    "deserialize_scalar",
    "derive_key_pair",
    "evaluate_indicator",
    "expand_message_xmd",
    "generate_key_pair",
    "hash_to_group",
    "hash_to_scalar",
    "indicator_input",
    "indicator_value",
]

if not pysodium.sodium_version_check(1, 0, 18):  # pragma: no cover - depends on the system
    raise ImportError("schemas.oprf needs libsodium >= 1.0.18 for ristretto255 "
                      "(Debian/Ubuntu: apt-get install libsodium23)")

SUITE_ID = b"ristretto255-SHA512"
ORDER = 2**252 + 27742317777372353535851937790883648493
"""The ristretto255 group order L (RFC 9497 §4.1)."""

ELEMENT_BYTES = 32
SCALAR_BYTES = 32
PROOF_BYTES = 2 * SCALAR_BYTES
OUTPUT_BYTES = 64
MAX_INPUT_BYTES = 2**16 - 2
"""Inputs "MUST be smaller than 2^16-1 bytes" (RFC 9497 §5.1)."""
MAX_BATCH = 2**16
"""The composite transcript encodes the element index in two bytes (RFC 9497 §2.2.1)."""

_IDENTITY = bytes(ELEMENT_BYTES)
"""ristretto255 encodes the identity as 32 zero bytes, and encodings are canonical."""
_ZERO = bytes(SCALAR_BYTES)
_GENERATOR = pysodium.crypto_scalarmult_ristretto255_base((1).to_bytes(SCALAR_BYTES, "little"))


class Mode(IntEnum):
    """Protocol variant identifiers (RFC 9497 §3.1); POPRF (0x02) is not implemented."""

    OPRF = 0x00
    VOPRF = 0x01


# ---------------------------------------------------------------------- errors


class OprfError(ValueError):
    """Base of every failure of this module; subclasses name which one."""


class DeserializeError(OprfError):
    """Bytes that are not a serialized scalar, element or proof (RFC 9497 §5.3)."""


class InvalidElementError(DeserializeError):
    """32 bytes that are not the canonical encoding of a ristretto255 element."""


class IdentityElementError(InvalidElementError):
    """The identity element received from a peer: RFC 9497 §3.3 requires refusing it,
    since it would make the evaluation independent of the key."""


class InvalidInputError(OprfError):
    """A private input that is too long (§5.1) or hashes to the identity (§3.3.1)."""


class VerifyError(OprfError):
    """A VOPRF proof that does not verify against the published key (§3.3.2)."""


class DeriveKeyPairError(OprfError):
    """DeriveKeyPair found no non-zero scalar in 256 tries (§3.2.1; probability ~2^-64000)."""


class BatchSizeError(OprfError):
    """An empty batch, a batch over `MAX_BATCH`, or lists of different lengths."""


# --------------------------------------------------------------- hash functions


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def _framed(*parts: bytes) -> bytes:
    """I2OSP(len(p), 2) || p for each part: the length-prefixed transcript encoding."""
    return b"".join(_i2osp(len(p), 2) + p for p in parts)


def context_string(mode: Mode) -> bytes:
    """"OPRFV1-" || I2OSP(mode, 1) || "-" || identifier (RFC 9497 §3.1)."""
    return b"OPRFV1-" + _i2osp(int(mode), 1) + b"-" + SUITE_ID


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128).

    Every DST of this suite is under 64 bytes, so the oversize-DST rule (§5.3.3) is
    not implemented: a longer DST is refused rather than hashed untested.
    """
    if len(dst) > 255:
        raise ValueError("expand_message_xmd: DST over 255 bytes")
    ell = -(-length // 64)
    if ell > 255 or length > 65535:
        raise ValueError("expand_message_xmd: requested length too large")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(128) + msg + _i2osp(length, 2) + b"\x00" + dst_prime).digest()
    block = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = [block]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, block, strict=True))
        block = hashlib.sha512(mixed + _i2osp(i, 1) + dst_prime).digest()
        out.append(block)
    return b"".join(out)[:length]


def hash_to_group(msg: bytes, mode: Mode) -> bytes:
    """hash_to_ristretto255 (RFC 9380 App. B) with DST "HashToGroup-" || contextString.

    libsodium's `crypto_core_ristretto255_from_hash` is the 64-byte one-way map of
    RFC 9496 §4.3.4 that hash_to_ristretto255 applies to the expanded message.
    """
    uniform = expand_message_xmd(msg, _DST_GROUP[mode], 64)
    return pysodium.crypto_core_ristretto255_from_hash(uniform)


def hash_to_scalar(msg: bytes, mode: Mode, dst: bytes | None = None) -> bytes:
    """64 expanded bytes read little-endian and reduced mod L (RFC 9497 §4.1).

    The default DST is "HashToScalar-" || contextString; DeriveKeyPair passes its own.
    """
    uniform = expand_message_xmd(msg, _DST_SCALAR[mode] if dst is None else dst, 64)
    return pysodium.crypto_core_ristretto255_scalar_reduce(uniform)


_DST_GROUP = {m: b"HashToGroup-" + context_string(m) for m in Mode}
_DST_SCALAR = {m: b"HashToScalar-" + context_string(m) for m in Mode}
_DST_DERIVE = {m: b"DeriveKeyPair" + context_string(m) for m in Mode}
_DST_SEED = {m: b"Seed-" + context_string(m) for m in Mode}


# ------------------------------------------------------------ deserialization


def _bytes(value: object, what: str, length: int) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise DeserializeError(f"{what} must be bytes, not {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != length:
        raise DeserializeError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def deserialize_scalar(value: object, what: str = "scalar") -> bytes:
    """A canonical little-endian scalar in [0, L) (RFC 9497 §4.1 DeserializeScalar)."""
    raw = _bytes(value, what, SCALAR_BYTES)
    if int.from_bytes(raw, "little") >= ORDER:
        raise DeserializeError(f"{what} is not a canonical scalar (not below the group order)")
    return raw


def deserialize_element(value: object, what: str = "element") -> bytes:
    """A canonical, non-identity ristretto255 encoding (RFC 9497 §4.1 DeserializeElement).

    RFC 9496 §4.3.1 refuses any s >= p, so an encoding with the top bit set; libsodium
    1.0.18 ignores that bit when decoding, so it is checked here.
    """
    raw = _bytes(value, what, ELEMENT_BYTES)
    if raw == _IDENTITY:
        raise IdentityElementError(f"{what} is the identity element")
    if raw[31] & 0x80 or not pysodium.crypto_core_ristretto255_is_valid_point(raw):
        raise InvalidElementError(f"{what} is not a valid ristretto255 encoding")
    return raw


def _is_zero(scalar: bytes) -> bool:
    """Constant-time: scalars are often secret (keys, blinds, proof nonces)."""
    return hmac.compare_digest(scalar, _ZERO)


def _nonzero_scalar(value: object, what: str) -> bytes:
    raw = deserialize_scalar(value, what)
    if _is_zero(raw):
        raise DeserializeError(f"{what} must not be zero")
    return raw


def _input(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInputError(f"input must be bytes, not {type(value).__name__}")
    raw = bytes(value)
    if len(raw) > MAX_INPUT_BYTES:
        raise InvalidInputError(f"input is {len(raw)} bytes, at most {MAX_INPUT_BYTES} allowed")
    return raw


# --------------------------------------------------------------- group helpers


def _mul(scalar: bytes, element: bytes) -> bytes:
    """scalar * element for already-valid operands, the identity included.

    libsodium refuses to return the identity; in a prime-order group that result
    only comes from a zero scalar or the identity element, so both are answered here.
    """
    if _is_zero(scalar) or hmac.compare_digest(element, _IDENTITY):
        return _IDENTITY
    return pysodium.crypto_scalarmult_ristretto255(scalar, element)


def _mul_peer(scalar: bytes, element: object, what: str) -> bytes:
    """scalar * element for a non-zero scalar and an element received from a peer.

    The hot path of the hub: one libsodium call, which decodes the element itself
    (all but the top bit, checked first) and fails exactly when it is invalid or the
    identity (a non-zero scalar times a valid non-identity element is never the
    identity); only then is the element examined to name the failure.
    """
    raw = _bytes(element, what, ELEMENT_BYTES)
    if raw[31] & 0x80:
        raise InvalidElementError(f"{what} is not a valid ristretto255 encoding")
    try:
        return pysodium.crypto_scalarmult_ristretto255(scalar, raw)
    except ValueError:
        deserialize_element(raw, what)
        raise  # pragma: no cover - deserialize_element raised for any element libsodium refuses


def _mul_base(scalar: bytes) -> bytes:
    return _IDENTITY if _is_zero(scalar) else pysodium.crypto_scalarmult_ristretto255_base(scalar)


def _add(a: bytes, b: bytes) -> bytes:
    return pysodium.crypto_core_ristretto255_add(a, b)


def _random_scalar() -> bytes:
    """A uniform non-zero scalar (libsodium rejection-samples, RFC 9497 §4.7.1)."""
    return pysodium.crypto_core_ristretto255_scalar_random()


# ----------------------------------------------------------------------- keys


@dataclass(frozen=True)
class KeyPair:
    """A server key pair: `private_key` skS (scalar) and `public_key` pkS = skS * G."""

    private_key: bytes = field(repr=False)
    public_key: bytes


def generate_key_pair() -> KeyPair:
    """A fresh random key pair (RFC 9497 §3.2 GenerateKeyPair); valid for both modes."""
    sk = _random_scalar()
    return KeyPair(sk, _mul_base(sk))


def derive_key_pair(seed: bytes, info: bytes, mode: Mode) -> KeyPair:
    """Deterministic key pair from a secret seed and public info (RFC 9497 §3.2.1).

    The mode enters through the DST, so the same seed gives different keys per mode.
    """
    if len(info) > MAX_INPUT_BYTES:
        raise DeriveKeyPairError("info is too long")
    derive_input = bytes(seed) + _framed(bytes(info))
    for counter in range(256):
        sk = hash_to_scalar(derive_input + _i2osp(counter, 1), mode, _DST_DERIVE[mode])
        if not _is_zero(sk):
            return KeyPair(sk, _mul_base(sk))
    raise DeriveKeyPairError("no non-zero scalar in 256 attempts")  # pragma: no cover


# ------------------------------------------------------------- client helpers


@dataclass(frozen=True)
class Blinded:
    """Blind's output: keep `blind` secret and local, send `element` to the server."""

    blind: bytes = field(repr=False)
    element: bytes


def _blind(data: object, mode: Mode, blind: bytes | None) -> Blinded:
    """RFC 9497 §3.3.1 Blind; `blind` fixed only to reproduce test vectors."""
    raw = _input(data)
    r = _random_scalar() if blind is None else _nonzero_scalar(blind, "blind")
    input_element = hash_to_group(raw, mode)
    if input_element == _IDENTITY:
        raise InvalidInputError("input hashes to the identity element")  # pragma: no cover
    return Blinded(r, _mul(r, input_element))


def _finalize_hash(data: bytes, unblinded: bytes) -> bytes:
    return hashlib.sha512(_framed(data, unblinded) + b"Finalize").digest()


def _invert_all(scalars: Sequence[bytes]) -> list[bytes]:
    """Inverses of non-zero scalars with one inversion (Montgomery's trick).

    An inversion costs ~35 µs, a scalar product ~1 µs: a member finalizing a batch
    of thousands pays three products per element instead of an inversion each.
    """
    mul = pysodium.crypto_core_ristretto255_scalar_mul
    prefix = [scalars[0]]
    for x in scalars[1:]:
        prefix.append(mul(prefix[-1], x))
    acc = pysodium.crypto_core_ristretto255_scalar_invert(prefix[-1])
    out = [b""] * len(scalars)
    for i in range(len(scalars) - 1, 0, -1):
        out[i] = mul(acc, prefix[i - 1])
        acc = mul(acc, scalars[i])
    out[0] = acc
    return out


def _unblind_all(inputs: Sequence[object], blinds: Sequence[object],
                 evaluated: Sequence[bytes]) -> list[bytes]:
    """Finalize's unblinding and hash (RFC 9497 §3.3.1) for validated evaluated elements."""
    raw = [_input(x) for x in inputs]
    inverses = _invert_all([_nonzero_scalar(b, f"blind {i}") for i, b in enumerate(blinds)])
    return [_finalize_hash(x, _mul(inv, e)) for x, inv, e in zip(raw, inverses, evaluated,
                                                                  strict=True)]


def _evaluate(private_key: bytes, data: object, mode: Mode) -> bytes:
    """RFC 9497 §3.3.1 Evaluate: the PRF output computed by whoever holds the key."""
    raw = _input(data)
    input_element = hash_to_group(raw, mode)
    if input_element == _IDENTITY:
        raise InvalidInputError("input hashes to the identity element")  # pragma: no cover
    return _finalize_hash(raw, _mul(private_key, input_element))


# ------------------------------------------------------------------ DLEQ proof


def _check_batch(c: Sequence[bytes], d: Sequence[bytes]) -> None:
    if not c or len(c) > MAX_BATCH:
        raise BatchSizeError(f"a batch holds 1 to {MAX_BATCH} elements, got {len(c)}")
    if len(c) != len(d):
        raise BatchSizeError(f"{len(c)} blinded elements but {len(d)} evaluated elements")


def _composite_scalars(mode: Mode, b: bytes, c: Sequence[bytes], d: Sequence[bytes]) -> list[bytes]:
    """The d_i of ComputeComposites (RFC 9497 §2.2.1), bound to pkS through the seed."""
    seed = hashlib.sha512(_framed(b, _DST_SEED[mode])).digest()
    prefix = _framed(seed)
    return [hash_to_scalar(prefix + _i2osp(i, 2) + _framed(ci, di) + b"Composite", mode)
            for i, (ci, di) in enumerate(zip(c, d, strict=True))]


def _weighted_sum(weights: Sequence[bytes], elements: Sequence[bytes]) -> bytes:
    """Sum of w_i * e_i, starting from the first term: adding the identity costs a
    libsodium decode and encode (~16 µs) for nothing."""
    terms = (_mul(w, e) for w, e in zip(weights, elements, strict=True))
    total = next(terms)
    for term in terms:
        total = _add(term, total)
    return total


def _challenge(mode: Mode, b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> bytes:
    return hash_to_scalar(_framed(b, m, z, t2, t3) + b"Challenge", mode)


def _generate_proof(mode: Mode, k: bytes, b: bytes, c: Sequence[bytes], d: Sequence[bytes],
                    r: bytes | None) -> bytes:
    """GenerateProof with A = G (RFC 9497 §2.2.1, ComputeCompositesFast): c || s."""
    m = _weighted_sum(_composite_scalars(mode, b, c, d), c)
    z = _mul(k, m)
    nonce = _random_scalar() if r is None else deserialize_scalar(r, "proof randomness")
    challenge = _challenge(mode, b, m, z, _mul_base(nonce), _mul(nonce, m))
    s = pysodium.crypto_core_ristretto255_scalar_sub(
        nonce, pysodium.crypto_core_ristretto255_scalar_mul(challenge, k))
    return challenge + s


def _verify_proof(mode: Mode, b: bytes, c: Sequence[bytes], d: Sequence[bytes],
                  proof: object) -> None:
    """VerifyProof with A = G (RFC 9497 §2.2.2); raises VerifyError when it fails."""
    raw = _bytes(proof, "proof", PROOF_BYTES)
    challenge = deserialize_scalar(raw[:SCALAR_BYTES], "proof challenge")
    s = deserialize_scalar(raw[SCALAR_BYTES:], "proof response")
    weights = _composite_scalars(mode, b, c, d)
    m = _weighted_sum(weights, c)
    z = _weighted_sum(weights, d)
    t2 = _add(_mul_base(s), _mul(challenge, b))
    t3 = _add(_mul(s, m), _mul(challenge, z))
    if not hmac.compare_digest(_challenge(mode, b, m, z, t2, t3), challenge):
        raise VerifyError("the proof does not show that the evaluation used the published key")


# -------------------------------------------------------------------- contexts


class OprfClient:
    """The client of the OPRF mode (RFC 9497 §3.3.1): no key, no proof."""

    mode = Mode.OPRF

    def blind(self, data: bytes, blind: bytes | None = None) -> Blinded:
        """Blind `data`; pass `blind` only to reproduce a test vector."""
        return _blind(data, self.mode, blind)

    def finalize(self, data: bytes, blind: bytes, evaluated_element: bytes) -> bytes:
        """The 64-byte PRF output from the server's evaluation of our blinded element."""
        evaluated = deserialize_element(evaluated_element, "evaluated element")
        return _unblind_all([data], [blind], [evaluated])[0]


class OprfServer:
    """The server of the OPRF mode: evaluates blinded elements under `private_key`."""

    mode = Mode.OPRF

    def __init__(self, private_key: bytes) -> None:
        self._key = _nonzero_scalar(private_key, "private key")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<private key>)"

    def blind_evaluate(self, blinded_element: bytes) -> bytes:
        """skS * blindedElement (RFC 9497 §3.3.1), the element validated first."""
        return _mul_peer(self._key, blinded_element, "blinded element")

    def evaluate(self, data: bytes) -> bytes:
        """The PRF output for `data` computed directly (RFC 9497 §3.3.1 Evaluate)."""
        return _evaluate(self._key, data, self.mode)


class VoprfClient:
    """The client of the VOPRF mode (RFC 9497 §3.3.2), holding the published `public_key`."""

    mode = Mode.VOPRF

    def __init__(self, public_key: bytes) -> None:
        self.public_key = deserialize_element(public_key, "public key")

    def blind(self, data: bytes, blind: bytes | None = None) -> Blinded:
        """Blind `data`; pass `blind` only to reproduce a test vector."""
        return _blind(data, self.mode, blind)

    def finalize(self, data: bytes, blind: bytes, evaluated_element: bytes,
                 blinded_element: bytes, proof: bytes) -> bytes:
        """Verify the proof for one element, then unblind and hash (RFC 9497 §3.3.2)."""
        return self.finalize_batch([data], [blind], [evaluated_element], [blinded_element],
                                   proof)[0]

    def finalize_batch(self, inputs: Sequence[bytes], blinds: Sequence[bytes],
                       evaluated_elements: Sequence[bytes], blinded_elements: Sequence[bytes],
                       proof: bytes) -> list[bytes]:
        """Verify one batched proof over every element, then finalize each input.

        Nothing is unblinded before the proof holds, so an evaluation under another
        key never yields an output.
        """
        if not len(inputs) == len(blinds) == len(blinded_elements):
            raise BatchSizeError("inputs, blinds and blinded elements differ in length")
        c = [deserialize_element(e, f"blinded element {i}") for i, e in enumerate(blinded_elements)]
        d = [deserialize_element(e, f"evaluated element {i}")
             for i, e in enumerate(evaluated_elements)]
        _check_batch(c, d)
        _verify_proof(self.mode, self.public_key, c, d, proof)
        return _unblind_all(inputs, blinds, d)


class VoprfServer:
    """The server of the VOPRF mode: evaluations come with a DLEQ proof for `public_key`."""

    mode = Mode.VOPRF

    def __init__(self, private_key: bytes) -> None:
        self._key = _nonzero_scalar(private_key, "private key")
        self.public_key = _mul_base(self._key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public_key={self.public_key.hex()})"

    def blind_evaluate(self, blinded_element: bytes, r: bytes | None = None) -> tuple[bytes, bytes]:
        """(evaluated element, proof) for one element (RFC 9497 §3.3.2)."""
        evaluated, proof = self.blind_evaluate_batch([blinded_element], r)
        return evaluated[0], proof

    def blind_evaluate_batch(self, blinded_elements: Sequence[bytes],
                             r: bytes | None = None) -> tuple[list[bytes], bytes]:
        """Evaluate many elements with one constant-size proof (RFC 9497 §2.2, §3.3.2).

        `r` is GenerateProof's random scalar, fixed only to reproduce test vectors.
        """
        if not blinded_elements or len(blinded_elements) > MAX_BATCH:
            raise BatchSizeError(f"a batch holds 1 to {MAX_BATCH} elements, "
                                 f"got {len(blinded_elements)}")
        c = [_bytes(e, f"blinded element {i}", ELEMENT_BYTES)
             for i, e in enumerate(blinded_elements)]
        d = [_mul_peer(self._key, e, f"blinded element {i}") for i, e in enumerate(c)]
        return d, _generate_proof(self.mode, self._key, self.public_key, c, d, r)

    def evaluate(self, data: bytes) -> bytes:
        """The PRF output for `data` computed directly (RFC 9497 §3.3.1 Evaluate)."""
        return _evaluate(self._key, data, self.mode)


# ------------------------------------------------ indicator values of OPRF epochs


EPOCH_MODE = Mode.VOPRF
"""An OPRF key epoch evaluates in VOPRF mode: every client checks the proof against
the epoch's published key, so the hub cannot give one client a key of its own.
The mode is part of the value (through HashToGroup's DST): an epoch never changes it."""


def indicator_input(kind: IndicatorKind | str, canonical: str) -> bytes:
    """The OPRF input of an indicator: UTF-8 of kind + ":" + canonical form.

    The same string the HMAC epochs hash (`schemas.indicators.hash_normalized`), so
    normalisation and its errors are shared; complaint texts are fingerprinted, not
    evaluated.
    """
    try:
        k = IndicatorKind(kind)
    except ValueError:
        raise InvalidIndicator(f"unknown indicator kind {kind!r}") from None
    if k not in HMAC_KINDS:
        raise InvalidIndicator("complaint_text is fingerprinted with simhash64, not an OPRF")
    if not isinstance(canonical, str) or not canonical:
        raise InvalidIndicator("the canonical form must be a non-empty string")
    data = f"{k.value}:{canonical}".encode()
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidIndicator(f"the canonical form is over {MAX_INPUT_BYTES} bytes")
    return data


def indicator_value(output: bytes) -> str:
    """The wire value of an OPRF epoch: lowercase hex of the output's first 32 bytes.

    64 hex characters like an HMAC-SHA256 value, so reports, listings and feeds keep
    their format (DESIGN §2) and the phone feed key is again the first 8 bytes. Any
    prefix of the PRF's SHA-512 output is itself pseudorandom; no second hash needed.
    """
    raw = _bytes(output, "OPRF output", OUTPUT_BYTES)
    return raw[:32].hex()


def evaluate_indicator(kind: IndicatorKind | str, canonical: str, private_key: bytes) -> str:
    """The value computed with the epoch's key itself (RFC 9497 §3.3.1 Evaluate).

    For the hub and for a deployment that lets trusted members hold the key; it
    equals what a client obtains blinded, through `VoprfClient.finalize`.
    """
    data = indicator_input(kind, canonical)
    return indicator_value(_evaluate(_nonzero_scalar(private_key, "private key"), data,
                                     EPOCH_MODE))
