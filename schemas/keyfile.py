"""Ed25519 private-key files, optionally passphrase-protected with scrypt (issue 14).

Why not `BestAvailableEncryption`: for PKCS8 it derives the wrapping key with
PBKDF2-HMAC-SHA256 at 2,048 iterations, which a GPU tries at billions of
passphrases per second once a key file is copied. `cryptography` cannot write
PKCS8 with another KDF or iteration count, so an encrypted key file is our own
PEM-shaped format, one helper for the member CLI and the hub's root and feed
keys:

    -----BEGIN LIANFANG ENCRYPTED PRIVATE KEY-----
    {"cipher":"aes-256-gcm","format":1,"kdf":"scrypt","n":131072,"nonce":"..","p":1,"r":8,"salt":".."}
    <base64 of AES-256-GCM(scrypt(passphrase, salt), PKCS8 DER), 64 per line>
    -----END LIANFANG ENCRYPTED PRIVATE KEY-----

The header line is the GCM associated data, so its parameters cannot be
lowered without the tag failing; scrypt at N=2^17, r=8, p=1 (128 MiB, OWASP's
figure) makes each guess cost that memory. Files written before (PKCS8 PEM,
plain or PBKDF2-encrypted) still load through `load_pem_private_key`; new
files are always written in this format.
"""

from __future__ import annotations

import json
import os
import textwrap

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
    load_pem_private_key,
)

from schemas.keys import b64decode, b64encode

BEGIN = b"-----BEGIN LIANFANG ENCRYPTED PRIVATE KEY-----"
END = b"-----END LIANFANG ENCRYPTED PRIVATE KEY-----"
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_N = 2**20
"""Largest N a file may ask for (1 GiB at r=8): a planted file cannot make
loading allocate without bound."""
_SALT_BYTES = 16
_NONCE_BYTES = 12


class KeyFileError(ValueError):
    """Not a key file we can read, or the passphrase is missing or wrong."""


def _kdf(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def is_encrypted(data: bytes) -> bool:
    """True for our scrypt format and for old PBKDF2 PKCS8 files (both need a passphrase)."""
    head = data.lstrip()
    return head.startswith(BEGIN) or head.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def dump_private_key(key: Ed25519PrivateKey, passphrase: bytes | None) -> bytes:
    """PEM bytes of `key`: PKCS8 in the clear without a passphrase, scrypt+AES-GCM with one."""
    if not passphrase:
        return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    header = json.dumps(
        {"cipher": "aes-256-gcm", "format": 1, "kdf": "scrypt", "n": SCRYPT_N, "nonce":
         b64encode(nonce), "p": SCRYPT_P, "r": SCRYPT_R, "salt": b64encode(salt)},
        sort_keys=True, separators=(",", ":"),
    ).encode("ascii")
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    sealed = AESGCM(_kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, der, header)
    body = "\n".join(textwrap.wrap(b64encode(sealed), 64)).encode("ascii")
    return b"\n".join([BEGIN, header, body, END]) + b"\n"


def key_file_header(data: bytes) -> dict[str, object]:
    """The parameters of a scrypt key file (what `load_private_key` will use)."""
    lines = data.strip().splitlines()
    if len(lines) < 4 or lines[0].strip() != BEGIN or lines[-1].strip() != END:
        raise KeyFileError("not a Lianfang encrypted key file")
    try:
        header = json.loads(lines[1])
    except ValueError as exc:
        raise KeyFileError("unreadable key file header") from exc
    if not isinstance(header, dict):
        raise KeyFileError("unreadable key file header")
    return header


def _load_scrypt_file(data: bytes, passphrase: bytes) -> object:
    header = key_file_header(data)
    lines = data.strip().splitlines()
    try:
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
        salt, nonce = b64decode(str(header["salt"])), b64decode(str(header["nonce"]))
        sealed = b64decode(b"".join(line.strip() for line in lines[2:-1]).decode("ascii"))
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"malformed key file: {exc}") from exc
    if (header.get("kdf"), header.get("cipher"), header.get("format")) != (
        "scrypt", "aes-256-gcm", 1
    ):
        raise KeyFileError("unsupported key file format")
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise KeyFileError("key file asks for scrypt parameters out of range")
    try:
        der = AESGCM(_kdf(passphrase, salt, n, r, p)).decrypt(nonce, sealed, lines[1])
    except (InvalidTag, ValueError) as exc:
        raise KeyFileError("wrong passphrase (or a damaged key file)") from exc
    return load_der_private_key(der, password=None)


def load_private_key(data: bytes, passphrase: bytes | None) -> Ed25519PrivateKey:
    """An Ed25519 key from any file we ever wrote: scrypt format, old PBKDF2 PKCS8, plain.

    KeyFileError (a ValueError) names what is wrong without echoing the file.
    """
    if data.lstrip().startswith(BEGIN):
        if not passphrase:
            raise KeyFileError("the key file is encrypted: a passphrase is needed")
        key = _load_scrypt_file(data, passphrase)
    else:
        encrypted = is_encrypted(data)
        try:
            key = load_pem_private_key(data, password=passphrase if encrypted else None)
        except TypeError as exc:
            raise KeyFileError("the key file is encrypted: a passphrase is needed") from exc
        except ValueError as exc:
            raise KeyFileError("wrong passphrase (or a damaged key file)" if encrypted
                               else "not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("not an Ed25519 key")
    return key
