"""Lianfang client SDK: hashing, feed sync and call screening for member institutions."""

from client_sdk.hashing import (
    InvalidIndicator,
    hash_indicator,
    hash_normalized,
    normalize,
    normalize_phone,
    simhash64,
    simhash_distance,
)

__all__ = [
    "InvalidIndicator",
    "hash_indicator",
    "hash_normalized",
    "normalize",
    "normalize_phone",
    "simhash64",
    "simhash_distance",
]
