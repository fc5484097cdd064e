"""Rate limits per client address, per member and per reader token (429 + Retry-After).

Why two hooks instead of flask-limiter's route decorators: the per-address limits
(applications, admin login) must run *before* any work, but the per-member and
per-token limits must run *after* authentication — keyed on the claimed
`X-Lianfang-Member` header, anyone who knows a member id could exhaust that
member's quota with unsigned junk. So `install_rate_limits` registers a
`before_request` for the address scopes, and the auth decorators call
`check_member` / `check_reader` once they know who is calling.

Counting uses the `limits` package that flask-limiter is built on (same storage
URIs: `memory://` by default, `redis://host:port` when several gunicorn
workers must share counters). Each app gets its own storage object, so two
apps in one process (tests) never share counts. When the storage fails (redis
down) the limiter fails open and logs a warning.

Every limit is a `limits` string ("10/hour", "600/minute", "5 per 2 seconds")
read from the config (`HubConfig.ratelimit`, `LIANFANG_RATELIMIT_<SCOPE>`, checked
when the config is built); an empty string turns that scope off, and
`LIANFANG_RATELIMIT_ENABLED=off` turns all of them off.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from hub.config import ConfigError, HubConfig, RateLimitConfig
from hub.errors import ApiError

#: Scope → default limit (per client address: applications, admin_login; per approved
#: member after signature verification: member_write, member_read, and member_lookup
#: counted in looked-up values; per reader token: feed_read; OPRF evaluations counted in
#: elements: oprf_reader per token, oprf_member per signing member).
DEFAULT_LIMITS: Mapping[str, str] = RateLimitConfig().scopes()

#: Flask endpoint → address-keyed scope checked before the view runs.
ADDRESS_SCOPES: Mapping[str, str] = {
    "applications.apply": "applications",
    "admin_auth.admin_login": "admin_login",
    "console.login_submit": "admin_login",
}

log = logging.getLogger("hub.ratelimit")
_EXTENSION = "lianfang_ratelimit"


@dataclass
class HubRateLimiter:
    """The limits of one app and the storage that counts them."""

    limits: Mapping[str, RateLimitItem | None]
    storage: Storage
    enabled: bool = True

    def __post_init__(self) -> None:
        self.strategy = FixedWindowRateLimiter(self.storage)

    def check(self, scope: str, key: str, cost: int = 1) -> None:
        """Count `cost` hits of `key` in `scope`; ApiError 429 with Retry-After when over.

        A cost above what is left of the window is refused *without* being counted
        (`test` before `hit`; `hit` alone would add the refused cost and lock the
        member out for the rest of the window), so a too-large batch can be retried
        smaller at once.
        """
        item = self.limits.get(scope)
        if not self.enabled or item is None:
            return
        try:
            fits = cost <= item.amount and (
                cost == 1 or self.strategy.test(item, scope, key, cost=cost))
            if fits and self.strategy.hit(item, scope, key, cost=cost):
                return
            stats = self.strategy.get_window_stats(item, scope, key)
        except Exception as exc:  # noqa: BLE001 - any storage failure (redis down, timeout)
            # Fail open: a dead counter store must not take the API down with it;
            # authentication and the admin lock-out still hold.
            log.warning("rate-limit storage unavailable (%s); not limiting", type(exc).__name__)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests ({scope}: {item.amount} per "
            f"{item.multiples} {item.GRANULARITY.name}"
            + (f"; this request counts {cost}" if cost > 1 else "")
            + f"); retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def reset(self) -> None:
        """Forget every count (admin tooling and tests)."""
        self.storage.reset()


def build_limiter(cfg: HubConfig) -> HubRateLimiter:
    """A HubRateLimiter from a HubConfig (limits already checked when it was built);
    ConfigError when the storage URI's backend cannot be set up."""
    settings = cfg.ratelimit
    limits: dict[str, RateLimitItem | None] = {
        scope: parse(text) if text else None for scope, text in settings.scopes().items()
    }
    try:
        storage = storage_from_string(settings.storage_uri)
    except ConfigurationError as exc:
        raise ConfigError(
            f"LIANFANG_RATELIMIT_STORAGE_URI: {exc} (redis:// needs `pip install redis`, "
            "the `redis` extra)"
        ) from None
    return HubRateLimiter(limits=limits, storage=storage, enabled=settings.enabled)


def get_limiter(app: Flask | None = None) -> HubRateLimiter | None:
    target = app if app is not None else current_app
    return target.extensions.get(_EXTENSION)


def client_address() -> str:
    """The peer address (put the hub behind werkzeug's ProxyFix to use X-Forwarded-For)."""
    return request.remote_addr or "unknown"


IPV6_BUCKET_PREFIX = 64


def address_bucket(address: str) -> str:
    """What per-address limits count by: an IPv4 address, or an IPv6 address's /64.

    Why: one IPv6 subscriber or server is routinely handed a whole /64 (2^64
    addresses), so counting per IPv6 address lets one attacker rotate source
    addresses and make every per-address limit -- the sign-in throttle, the
    application rate limit -- meaningless. An IPv4-mapped IPv6 address counts
    as its IPv4 address.
    """
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_BUCKET_PREFIX), strict=False))
    return str(parsed)


def _check_address_scopes() -> None:
    scope = ADDRESS_SCOPES.get(request.endpoint or "")
    limiter = get_limiter()
    if scope is not None and limiter is not None:
        limiter.check(scope, address_bucket(client_address()))


def check_member(member_id: str) -> None:
    """After a member signature verified: count a read or a write for this member."""
    limiter = get_limiter()
    if limiter is not None:
        scope = "member_read" if request.method in ("GET", "HEAD") else "member_write"
        limiter.check(scope, member_id)


def check_member_values(member_id: str, count: int) -> None:
    """After a member signature verified: count `count` looked-up values (batch lookup)."""
    limiter = get_limiter()
    if limiter is not None:
        limiter.check("member_lookup", member_id, cost=count)


def check_reader(token_id: str | None, member_id: str) -> None:
    """After reader authentication: count a feed read for the token (or the signer)."""
    limiter = get_limiter()
    if limiter is not None:
        limiter.check("feed_read", f"token:{token_id}" if token_id else f"member:{member_id}")


def check_oprf(token_id: str | None, member_id: str, count: int) -> None:
    """After reader authentication: count `count` OPRF evaluations, per reader token
    (`oprf_reader`) or per signing member (`oprf_member`) — the daily quota that
    bounds how fast a leaked token can enumerate the phone space (issue 20)."""
    limiter = get_limiter()
    if limiter is None:
        return
    if token_id is not None:
        limiter.check("oprf_reader", f"token:{token_id}", cost=count)
    else:
        limiter.check("oprf_member", f"member:{member_id}", cost=count)


def install_rate_limits(app: Flask, cfg: object) -> HubRateLimiter:
    """Attach the limiter to `app` (called by `create_app`)."""
    limiter = build_limiter(cfg)
    app.extensions[_EXTENSION] = limiter
    app.before_request(_check_address_scopes)
    return limiter
