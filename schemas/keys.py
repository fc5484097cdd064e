"""How Ed25519 keys and signatures travel: base64 text and SHA-256 key ids."""

from __future__ import annotations

import base64
import binascii
import hashlib

ED25519_PUBLIC_KEY_LEN = 32
ED25519_SIGNATURE_LEN = 64


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, length: int | None = None) -> bytes:
    """Strict base64 decode; raises ValueError on bad alphabet or wrong length."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not valid base64") from exc
    if length is not None and len(raw) != length:
        raise ValueError(f"expected {length} bytes, got {len(raw)}")
    return raw


def key_id(public_key_raw: bytes) -> str:
    """A key's id: lowercase hex SHA-256 of its 32 raw public bytes."""
    return hashlib.sha256(public_key_raw).hexdigest()


def fingerprint(public_key_raw: bytes) -> str:
    """Short human-checkable form of a key id, e.g. `3f2a:91c0:77de:0b14`."""
    kid = key_id(public_key_raw)[:16]
    return ":".join(kid[i : i + 4] for i in range(0, 16, 4))


#: What a member's key rotation `proof` signs with the new key, followed by the
#: member id (proof of possession; `POST /v1/members/me/key`).
MEMBER_KEY_ROTATION_CONTEXT = b"lianfang-member-key-rotation\n"
