"""Attack: a copied passphrase-protected key file is brute-forced offline.

The review found every encrypted key file (member keys, the hub's root and feed
keys) wrapped with `BestAvailableEncryption`: PBKDF2-HMAC-SHA256 at 2,048
iterations, so a stolen file costs the thief one cheap hash per guess. Key files
are now scrypt (N=2^17, r=8, p=1: 128 MiB per guess) + AES-GCM, through one
helper (`schemas.keyfile`) that the member CLI and the hub keystore both use;
files written the old way still load.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    PublicFormat,
)

from schemas import keyfile

PASS = b"correct horse battery staple"


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_a_new_key_file_header_proves_a_memory_hard_kdf() -> None:
    key = Ed25519PrivateKey.generate()
    data = keyfile.dump_private_key(key, PASS)
    header = keyfile.key_file_header(data)
    assert header["kdf"] == "scrypt" and header["cipher"] == "aes-256-gcm"
    assert int(header["n"]) * int(header["r"]) * 128 >= 128 * 1024 * 1024  # memory per guess
    assert b"PRIVATE KEY-----\n" in data and b"BEGIN ENCRYPTED PRIVATE KEY" not in data
    assert _raw(keyfile.load_private_key(data, PASS)) == _raw(key)


def test_lowering_the_kdf_parameters_in_the_header_does_not_decrypt() -> None:
    """The header is the GCM associated data: a thief cannot make guesses cheaper by
    editing it (and a planted file cannot ask for unbounded memory)."""
    data = keyfile.dump_private_key(Ed25519PrivateKey.generate(), PASS)
    lines = data.splitlines()
    header = json.loads(lines[1])
    for n in (2, 2**21):
        forged = dict(header, n=n)
        lines[1] = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()
        with pytest.raises(keyfile.KeyFileError):
            keyfile.load_private_key(b"\n".join(lines) + b"\n", PASS)


def test_a_file_encrypted_the_old_pbkdf2_way_still_loads() -> None:
    key = Ed25519PrivateKey.generate()
    old = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASS))
    assert keyfile.is_encrypted(old)
    assert _raw(keyfile.load_private_key(old, PASS)) == _raw(key)
    with pytest.raises(keyfile.KeyFileError, match="passphrase"):
        keyfile.load_private_key(old, None)


def test_wrong_or_missing_passphrase_is_a_key_file_error_not_a_crash() -> None:
    data = keyfile.dump_private_key(Ed25519PrivateKey.generate(), PASS)
    with pytest.raises(keyfile.KeyFileError, match="wrong passphrase"):
        keyfile.load_private_key(data, b"Tr0ub4dor&3")
    with pytest.raises(keyfile.KeyFileError, match="encrypted"):
        keyfile.load_private_key(data, None)
    with pytest.raises(keyfile.KeyFileError):
        keyfile.load_private_key(data.replace(b"\n", b"\n ", 3)[:-20] + b"\n", PASS)


def test_a_plain_key_file_is_plain_pkcs8() -> None:
    key = Ed25519PrivateKey.generate()
    data = keyfile.dump_private_key(key, None)
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----") and not keyfile.is_encrypted(data)
    assert _raw(keyfile.load_private_key(data, None)) == _raw(key)
