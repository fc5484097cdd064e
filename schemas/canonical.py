"""Canonical JSON: the exact bytes that are hashed and signed.

Sorted keys, no insignificant whitespace, UTF-8 (not ASCII-escaped), and no
floats: a float's text differs between implementations, so signed documents
carry integers and strings only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _reject_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise ValueError("canonical JSON carries no floats; use integers or strings")
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise ValueError("canonical JSON object keys must be strings")
            _reject_floats(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _reject_floats(value)


def canonical_json(obj: Any) -> bytes:
    """Serialise `obj` to its one canonical byte form."""
    _reject_floats(obj)
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
