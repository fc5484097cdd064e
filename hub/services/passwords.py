"""Admin password hashing with scrypt (from `cryptography`).

Encoded as `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>` so parameters can be raised
later without invalidating stored hashes. Parameters read back from the database
are bounded, so a corrupted row cannot make a login burn unbounded memory.
"""

from __future__ import annotations

import hmac
import os
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from schemas.keys import b64decode, b64encode

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_N = 2**20

# A well-formed hash of a random password: verified against for unknown users so
# that the response time does not tell whether a username exists.
_DUMMY: str | None = None


def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    kdf = Scrypt(salt=salt, length=HASH_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    digest = kdf.derive(password.encode("utf-8"))
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64encode(salt)}${b64encode(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; False for any mismatch or malformed hash."""
    try:
        scheme, n_text, r_text, p_text, salt_b64, hash_b64 = encoded.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = b64decode(salt_b64), b64decode(hash_b64)
    except ValueError:
        return False
    if scheme != "scrypt" or not (2 <= n <= _MAX_N) or not (1 <= r <= 32) or not (1 <= p <= 16):
        return False
    kdf = Scrypt(salt=salt, length=len(expected), n=n, r=r, p=p)
    try:
        candidate = kdf.derive(password.encode("utf-8"))
    except (InvalidKey, ValueError):
        return False
    return hmac.compare_digest(candidate, expected)


def burn_time(password: str) -> None:
    """Spend one verification's worth of time (unknown user path)."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password(secrets.token_urlsafe(16))
    verify_password(password, _DUMMY)


def generate_password() -> str:
    """A random password for a new admin (printed once)."""
    return secrets.token_urlsafe(18)
