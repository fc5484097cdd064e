"""Failed-login throttling per (account, client address), with growing delays.

Why not a lock on the account: a lock that any outsider can trigger by typing
five wrong passwords is a denial of service on the administrators — the
previous design locked `admin` out for everyone. Here the failures of one
address only slow down that address for that username; the right password from
another address still works.

Why keyed on the username as typed (hashed), not on the account: an unknown
username is throttled exactly like a known one, so 429 versus 401 no longer
tells an outsider which accounts exist.

The counters live in the rate limiter's storage (`memory://` or a shared
`redis://`), so several workers share them when configured to.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from limits.storage import MemoryStorage, Storage

from hub.errors import ApiError
from hub.ratelimit import address_bucket, get_limiter

#: First block after `admin_max_failures` failures; each further failure doubles it,
#: capped at `admin_lockout_s`.
BASE_DELAY_S = 30
log = logging.getLogger("hub.auth.login_throttle")
_FALLBACK = MemoryStorage()


def _storage() -> Storage:
    limiter = get_limiter()
    return limiter.storage if limiter is not None else _FALLBACK


def _keys(username: str, address: str) -> tuple[str, str]:
    # per IPv6 /64, not per address: a /64 is 2^64 addresses one attacker may rotate
    tag = hashlib.sha256(f"{username}\x00{address_bucket(address)}".encode()).hexdigest()[:32]
    return f"lianfang/login-fail/{tag}", f"lianfang/login-block/{tag}"


def delay_for(failures: int, max_failures: int, cap_s: int) -> int:
    """Seconds blocked after `failures` consecutive failures (0 below the threshold)."""
    if failures < max_failures:
        return 0
    return min(cap_s, BASE_DELAY_S * 2 ** min(failures - max_failures, 20))


def check(username: str, address: str) -> None:
    """ApiError 429 `login_throttled` while (username, address) is blocked.

    Runs before any password hashing, for known and unknown usernames alike.
    """
    _fail, block = _keys(username, address)
    storage = _storage()
    try:
        blocked = storage.get(block) > 0
        expiry = storage.get_expiry(block) if blocked else 0.0
    except Exception as exc:  # noqa: BLE001 - storage down: the per-address rate limit remains
        log.warning("login throttle storage unavailable (%s)", type(exc).__name__)
        return
    if blocked:
        retry_after = max(1, math.ceil(expiry - time.time()))
        raise ApiError(
            429,
            "login_throttled",
            "too many failed sign-ins for this username from your address; try again later",
            headers={"Retry-After": str(retry_after)},
        )


def record_failure(username: str, address: str, max_failures: int, cap_s: int) -> int:
    """Count one failure; returns the block (seconds) it starts, 0 when none."""
    fail, block = _keys(username, address)
    storage = _storage()
    try:
        # The failure count is remembered for twice the cap, so the delays keep
        # growing for a patient guesser and reset for a forgetful admin.
        failures = storage.incr(fail, 2 * cap_s)
        delay = delay_for(failures, max_failures, cap_s)
        if delay:
            storage.clear(block)
            storage.incr(block, delay)
    except Exception as exc:  # noqa: BLE001
        log.warning("login throttle storage unavailable (%s)", type(exc).__name__)
        return 0
    return delay


def record_success(username: str, address: str) -> None:
    """Forget the failures of (username, address) after a correct password."""
    storage = _storage()
    try:
        for key in _keys(username, address):
            storage.clear(key)
    except Exception as exc:  # noqa: BLE001
        log.warning("login throttle storage unavailable (%s)", type(exc).__name__)
