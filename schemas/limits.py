"""Limits the hub and the SDK must agree on that are not tied to one wire schema.

`hub/limits.py` re-exports these with every other hub limit (one table for
docs/API.md); they live here because `schemas` may not import `hub`.
"""

from __future__ import annotations

#: Largest `limit` a paginated list accepts.
MAX_PAGE_SIZE = 500
#: Largest `offset` a paginated list accepts: keeps it inside a 64-bit SQL integer
#: (an unbounded offset was an OverflowError → 500, found by the contract fuzzer).
MAX_PAGE_OFFSET = 10_000_000
