"""Member-side normalisation and keyed hashing (docs/ARCHITECTURE.md §2).

The implementation lives in `schemas.indicators` because the hub checks the
same forms; the SDK re-exports it so that a bank hashes exactly as the hub expects.
"""

from schemas.indicators import (
    InvalidIndicator,
    hash_indicator,
    hash_normalized,
    keyed_simhash64,
    normalize,
    normalize_phone,
    simhash64,
    simhash_distance,
)

__all__ = [
    "InvalidIndicator",
    "hash_indicator",
    "hash_normalized",
    "keyed_simhash64",
    "normalize",
    "normalize_phone",
    "simhash64",
    "simhash_distance",
]
