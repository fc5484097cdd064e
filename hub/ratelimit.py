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
read from the config (`LIANFANG_RATELIMIT_<SCOPE>`); an empty string turns that
scope off, and `LIANFANG_RATELIMIT_ENABLED=off` turns all of them off.
"""

from __future__ import annotations

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

from hub.errors import ApiError

#: Scope → default limit. docs/API.md, "Rate limits", names these scopes.
DEFAULT_LIMITS: Mapping[str, str] = {
    # per client address, before any work
    "applications": "10/hour",
    "admin_login": "20/minute",
    # per approved member, after signature verification
    "member_write": "600/minute",
    "member_read": "1200/minute",
    # per reader token (or per member when a signed member reads feeds)
    "feed_read": "600/minute",
}

#: Flask endpoint → address-keyed scope checked before the view runs.
ADDRESS_SCOPES: Mapping[str, str] = {
    "applications.apply": "applications",
    "admin_auth.admin_login": "admin_login",
    "console.login_submit": "admin_login",
}

DEFAULT_STORAGE_URI = "memory://"
log = logging.getLogger("hub.ratelimit")
_EXTENSION = "lianfang_ratelimit"
_ON = {"1", "true", "yes", "on"}


@dataclass
class HubRateLimiter:
    """The limits of one app and the storage that counts them."""

    limits: Mapping[str, RateLimitItem | None]
    storage: Storage
    enabled: bool = True

    def __post_init__(self) -> None:
        self.strategy = FixedWindowRateLimiter(self.storage)

    def check(self, scope: str, key: str) -> None:
        """Count one hit of `key` in `scope`; ApiError 429 with Retry-After when over."""
        item = self.limits.get(scope)
        if not self.enabled or item is None:
            return
        try:
            if self.strategy.hit(item, scope, key):
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
            f"{item.multiples} {item.GRANULARITY.name}); retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def reset(self) -> None:
        """Forget every count (admin tooling and tests)."""
        self.storage.reset()


def _setting(cfg: object, name: str, default: str) -> str:
    value = cfg.get(name, default)  # type: ignore[attr-defined]
    return default if value is None else str(value)


def build_limiter(cfg: object) -> HubRateLimiter:
    """A HubRateLimiter from a HubConfig; ValueError naming a malformed limit."""
    limits: dict[str, RateLimitItem | None] = {}
    for scope, default in DEFAULT_LIMITS.items():
        text = _setting(cfg, f"ratelimit_{scope}", default).strip()
        if not text:
            limits[scope] = None
            continue
        try:
            limits[scope] = parse(text)
        except ValueError:
            raise ValueError(
                f"LIANFANG_RATELIMIT_{scope.upper()} must look like '600/minute' (got {text!r})"
            ) from None
    enabled = _setting(cfg, "ratelimit_enabled", "on").strip().lower() in _ON
    uri = _setting(cfg, "ratelimit_storage_uri", DEFAULT_STORAGE_URI).strip()
    try:
        storage = storage_from_string(uri)
    except ConfigurationError as exc:
        raise ValueError(
            f"LIANFANG_RATELIMIT_STORAGE_URI: {exc} (redis:// needs `pip install redis`, "
            "the `redis` extra)"
        ) from None
    return HubRateLimiter(limits=limits, storage=storage, enabled=enabled)


def get_limiter(app: Flask | None = None) -> HubRateLimiter | None:
    target = app if app is not None else current_app
    return target.extensions.get(_EXTENSION)


def client_address() -> str:
    """The peer address (put the hub behind werkzeug's ProxyFix to use X-Forwarded-For)."""
    return request.remote_addr or "unknown"


def _check_address_scopes() -> None:
    scope = ADDRESS_SCOPES.get(request.endpoint or "")
    limiter = get_limiter()
    if scope is not None and limiter is not None:
        limiter.check(scope, client_address())


def check_member(member_id: str) -> None:
    """After a member signature verified: count a read or a write for this member."""
    limiter = get_limiter()
    if limiter is not None:
        scope = "member_read" if request.method in ("GET", "HEAD") else "member_write"
        limiter.check(scope, member_id)


def check_reader(token_id: str | None, member_id: str) -> None:
    """After reader authentication: count a feed read for the token (or the signer)."""
    limiter = get_limiter()
    if limiter is not None:
        limiter.check("feed_read", f"token:{token_id}" if token_id else f"member:{member_id}")


def install_rate_limits(app: Flask, cfg: object) -> HubRateLimiter:
    """Attach the limiter to `app` (called by `create_app`)."""
    limiter = build_limiter(cfg)
    app.extensions[_EXTENSION] = limiter
    app.before_request(_check_address_scopes)
    return limiter
