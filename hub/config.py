"""Hub configuration: one frozen, fully typed dataclass built from `LIANFANG_*` variables.

Why one dataclass and not Flask's dict: every setting has a type, a default and a
one-line description in one place; it is parsed and validated once, when the
hub starts, so `LIANFANG_POLICY_BLOCK_SCORE=abc` stops `lianfang-hub serve` with one
line instead of answering 500 to the first report. The configuration reference in
docs/OPERATIONS.md is generated from these fields (`hub.config_reference`).

Every setting has one environment variable and one override key, the variable's
name without `LIANFANG_`, lower case (`LIANFANG_POLICY_BLOCK_SCORE` ↔
`policy_block_score`): that key is what `create_app({...})` takes. Groups of
settings (merge policy, feeds, retention, rate limits) are sub-dataclasses that
HubConfig holds, so a service receives exactly its group as an argument.

A `LIANFANG_*` variable that is not a hub setting is an error too (a typo such as
`LIANFANG_POLICY_BLOK_SCORE` would otherwise leave the default silently in force),
except `LIANFANG_TEST_*` and the few variables in `NOT_HUB_SETTINGS`, which other
programs sharing the prefix read on purpose (the `lianfang` SDK command line, the
test suite).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
PREFIX = "LIANFANG_"
TEST_PREFIX = "LIANFANG_TEST_"

#: `LIANFANG_*` variables that are not hub settings, read elsewhere on purpose.
NOT_HUB_SETTINGS: Mapping[str, str] = {
    "LIANFANG_HUB_URL": "the `lianfang` SDK command line: hub base URL",
    "LIANFANG_TOKEN": "the `lianfang` SDK command line: reader token",
    "LIANFANG_STATE_DIR": "the `lianfang` SDK command line: state directory",
    "LIANFANG_ROOT_KEY": "the `lianfang` SDK command line: pinned root key",
    "LIANFANG_MEMBER_ID": "the `lianfang` SDK command line: member id",
    "LIANFANG_KEY": "the `lianfang` SDK command line: member private key file",
    "LIANFANG_MEMBER_KEY_PASSPHRASE": "the `lianfang` SDK command line: member key passphrase",
    "LIANFANG_REQUIRE_POSTGRES": "test suite: fail instead of skip when PostgreSQL is down",
    "LIANFANG_REQUIRE_BROWSER": "test suite: fail instead of skip when Chromium is missing",
    "LIANFANG_FUZZ_EXAMPLES": "test suite: examples per endpoint in `make fuzz`",
    "LIANFANG_SCREENSHOTS_DIR": "test suite: where the console tests write screenshots",
}


class ConfigError(ValueError):
    """A setting is malformed or unknown; the message is one line naming it."""


# ------------------------------------------------------------------ value kinds


@dataclass(frozen=True)
class Kind:
    """How one setting is read: `accepts` says what it takes (error text and the
    reference's type column), `convert` turns a string or a typed value into the
    field's value or raises ValueError."""

    accepts: str
    convert: Callable[[Any], Any]


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError


def integer(minimum: int, maximum: int | None = None) -> Kind:
    def convert(value: Any) -> int:
        number = _whole(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError
        return number

    if maximum is None:
        return Kind(f"a whole number ≥ {minimum}", convert)
    return Kind(f"a whole number between {minimum} and {maximum}", convert)


def real(minimum: float, maximum: float | None = None, *, above: bool = False) -> Kind:
    """A float in [minimum, maximum] (or > minimum when `above`)."""

    def convert(value: Any) -> float:
        number = _number(value)
        too_low = number <= minimum if above else number < minimum
        if number != number or too_low or (maximum is not None and number > maximum):
            raise ValueError
        return number

    if maximum is not None:
        return Kind(f"a number between {minimum:g} and {maximum:g}", convert)
    return Kind(f"a number {'>' if above else '≥'} {minimum:g}", convert)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else _text(value)


def _path(value: Any) -> Path:
    if isinstance(value, (str, os.PathLike)) and str(value):
        return Path(value)
    raise ValueError


def _url(value: Any) -> str:
    text = _text(value).strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError
    return text.rstrip("/")


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(value: Any) -> str:
    text = _text(value).strip().upper()
    if text not in _LEVELS:
        raise ValueError
    return text


def _limit(value: Any) -> str:
    # `limits` is imported here, not at module level: `hub/__init__` imports this
    # module, and `lianfang-hub` must import `hub` without the hub extra (where
    # `limits` lives) to say in one line what to install (issue 19).
    from limits import parse as parse_limit

    text = _text(value).strip()
    if text:
        parse_limit(text)  # ValueError when malformed
    return text


def _storage_uri(value: Any) -> str:
    from limits.storage import SCHEMES as STORAGE_SCHEMES  # lazily: see `_limit`

    text = _text(value).strip()
    if text.split("://", 1)[0] not in STORAGE_SCHEMES or "://" not in text:
        raise ValueError
    return text


def _optional_interval(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = _whole(value)
    if number < 1:
        raise ValueError
    return number


def _metrics_access(value: Any) -> str:
    text = _text(value).strip().lower()
    if text not in ("off", "token", "addresses"):
        raise ValueError
    return text


BOOL = Kind("on or off", _boolean)
METRICS_ACCESS = Kind("off, token or addresses", _metrics_access)


def _log_format(value: Any) -> str:
    text = _text(value).strip().lower()
    if text not in ("text", "json"):
        raise ValueError
    return text


LOG_FORMAT = Kind("text or json", _log_format)
TEXT = Kind("text", _text)
SECRET = Kind("text (unset: none)", _optional_text)
PATH = Kind("a directory path", _path)
URL = Kind("an http:// or https:// URL", _url)
LEVEL = Kind("one of " + ", ".join(_LEVELS), _level)
LIMIT = Kind("a limit like '600/minute' or '5 per 2 seconds', empty to turn it off", _limit)
STORAGE = Kind("a `limits` storage URI (memory://, redis://host:port, …)", _storage_uri)
OPTIONAL_SECONDS = Kind("a whole number ≥ 1 (unset: the feed build interval)",
                        _optional_interval)


def setting(env: str, kind: Kind, default: Any, description: str, shown: str | None = None) -> Any:
    """A dataclass field for one `LIANFANG_*` variable (`shown`: the default as the
    reference prints it, Markdown, when the value itself is computed)."""
    return field(default=default, metadata={
        "env": env, "kind": kind, "description": description, "shown": shown,
    })


def group(factory: Callable[[], Any]) -> Any:
    """A dataclass field holding a sub-dataclass of settings."""
    return field(default_factory=factory, metadata={"group": True})


class _Settings:
    """Validation shared by HubConfig and its groups: every field through its Kind."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            kind: Kind | None = f.metadata.get("kind")
            if kind is None:
                continue
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _convert(kind, value, f.metadata["env"], None))


def _convert(kind: Kind, value: Any, env: str, key: str | None) -> Any:
    try:
        return kind.convert(value)
    except (ValueError, TypeError):
        name = env if key is None else f"{key} ({env})"
        raise ConfigError(f"{name} must be {kind.accepts} (got {value!r})") from None


# ------------------------------------------------------------------ groups


@dataclass(frozen=True)
class MergePolicy(_Settings):
    """The consensus merge's policy numbers (DESIGN §4): configuration, not code."""

    block_score: float = setting(
        "LIANFANG_POLICY_BLOCK_SCORE", real(0, 1), 0.8,
        "consensus score at or above which a listing blocks (with enough members)")
    block_min_members: int = setting(
        "LIANFANG_POLICY_BLOCK_MIN_MEMBERS", integer(1), 2,
        "distinct members needed for block: one member can never block alone")
    warn_score: float = setting(
        "LIANFANG_POLICY_WARN_SCORE", real(0, 1), 0.5,
        "consensus score at or above which a listing warns")
    warn_single_confidence: int = setting(
        "LIANFANG_POLICY_WARN_SINGLE_CONFIDENCE", integer(0, 100), 80,
        "one active report with at least this confidence warns on its own")
    half_life_days: float = setting(
        "LIANFANG_POLICY_HALF_LIFE_DAYS", real(0, above=True), 30.0,
        "days after which a report's weight in the score halves")
    allow_min_members: int = setting(
        "LIANFANG_POLICY_ALLOW_MIN_MEMBERS", integer(1), 2,
        "distinct members whose `legit` reports allowlist a number")
    lone_warn_per_member: int = setting(
        "LIANFANG_POLICY_LONE_WARN_PER_MEMBER", integer(0), 20000,
        "listings one member's reports alone may hold at warn; beyond it that member's "
        "lone reports stay at tier `none` (not published) until another member agrees")


@dataclass(frozen=True)
class FeedConfig(_Settings):
    """Signed-feed knobs read by the builder, the retention purge and the feed API."""

    manifest_lifetime_s: int = setting(
        "LIANFANG_FEED_MANIFEST_LIFETIME_S", integer(60), 2 * 86400,
        "a manifest's `expires_at` − `issued_at`: clients refuse an older one (freeze attack)")
    snapshot_every: int = setting(
        "LIANFANG_FEED_SNAPSHOT_EVERY", integer(1), 20,
        "versions between full snapshots (deltas in between)")
    delta_window_hours: int = setting(
        "LIANFANG_FEED_DELTA_WINDOW_HOURS", integer(0), 24,
        "deltas a screener synced this many hours ago needs survive a snapshot cut")
    delta_window_versions: int = setting(
        "LIANFANG_FEED_DELTA_WINDOW_VERSIONS", integer(0), 50,
        "deltas for a screener this many versions behind survive a snapshot cut "
        "(the hours or the versions, whichever covers more)")
    retention_s: int = setting(
        "LIANFANG_FEED_RETENTION_S", integer(0), 7 * 86400,
        "how long artifacts unreferenced by the live manifest stay on disk")
    lease_ttl_s: int = setting(
        "LIANFANG_FEED_LEASE_TTL_S", integer(1), 600,
        "how long a crashed builder's lease blocks other builders")
    keyset_lifetime_s: int = setting(
        "LIANFANG_FEED_KEYSET_LIFETIME_S", integer(3600), 7 * 86400,
        "lifetime of the signed `keys.json`")
    root_lifetime_s: int = setting(
        "LIANFANG_FEED_ROOT_LIFETIME_S", integer(86400), 365 * 86400,
        "expiry written into each rotated-in root; screeners refuse an expired root")
    min_poll_interval_s: int | None = setting(
        "LIANFANG_FEED_MIN_POLL_INTERVAL_S", OPTIONAL_SECONDS, None,
        "`min_poll_interval_s` announced in `keys.json`", shown="the build interval")
    max_entries: int = setting(
        "LIANFANG_FEED_MAX_ENTRIES", integer(1), 5_000_000,
        "hard ceiling on one feed's entries: a build that would pass it is not published "
        "(the feed stays at its last version) and admins are alerted; 5M phone keys are "
        "a 40 MB snapshot, far below the SDK's 256 MiB artifact limit")
    alert_fraction: float = setting(
        "LIANFANG_FEED_ALERT_FRACTION", real(0, 1, above=True), 0.8,
        "share of `LIANFANG_FEED_MAX_ENTRIES` at which the console and metrics warn")


@dataclass(frozen=True)
class RetentionConfig(_Settings):
    """What the scheduled purge removes, and how often it runs."""

    report_days: int = setting(
        "LIANFANG_RETENTION_DAYS", integer(0), 90,
        "reports this many days past their `expires_at` are deleted (listings re-merged)")
    journal_days: int = setting(
        "LIANFANG_JOURNAL_RETENTION_DAYS", integer(0), 7,
        "`feed_changes` rows every feed has consumed are kept this many days")
    interval_s: int = setting(
        "LIANFANG_PURGE_INTERVAL_S", integer(60), 6 * 3600,
        "seconds between scheduled retention purges")


@dataclass(frozen=True)
class RateLimitConfig(_Settings):
    """Limits per client address, member and reader token (`limits` strings)."""

    enabled: bool = setting(
        "LIANFANG_RATELIMIT_ENABLED", BOOL, True, "`off` turns every rate limit off")
    applications: str = setting(
        "LIANFANG_RATELIMIT_APPLICATIONS", LIMIT, "10/hour",
        "membership applications per client address")
    admin_login: str = setting(
        "LIANFANG_RATELIMIT_ADMIN_LOGIN", LIMIT, "20/minute",
        "admin logins (API and console) per client address")
    member_write: str = setting(
        "LIANFANG_RATELIMIT_MEMBER_WRITE", LIMIT, "600/minute",
        "signed POST/DELETE per member, counted after the signature is verified")
    member_read: str = setting(
        "LIANFANG_RATELIMIT_MEMBER_READ", LIMIT, "1200/minute", "signed GET per member")
    member_lookup: str = setting(
        "LIANFANG_RATELIMIT_MEMBER_LOOKUP", LIMIT, "20000/minute",
        "indicator lookups per member, counted in values (a batch of n costs n, a single "
        "lookup 1); must allow a full 10,000-value batch")
    feed_read: str = setting(
        "LIANFANG_RATELIMIT_FEED_READ", LIMIT, "600/minute",
        "feed and consortium-key reads per reader token (or member)")
    oprf_reader: str = setting(
        "LIANFANG_RATELIMIT_OPRF_READER", LIMIT, "500/day",
        "OPRF evaluations per reader token, counted in elements: a phone's incoming calls "
        "and contacts in a day (docs/THREAT_MODEL.md gives the enumeration arithmetic)")
    oprf_member: str = setting(
        "LIANFANG_RATELIMIT_OPRF_MEMBER", LIMIT, "200000/day",
        "OPRF evaluations per member signature, counted in elements: a bank's daily "
        "reports; must allow a full 10,000-element batch")
    storage_uri: str = setting(
        "LIANFANG_RATELIMIT_STORAGE_URI", STORAGE, "memory://",
        "where counters live; `redis://host:6379` shares them between gunicorn workers")

    def scopes(self) -> dict[str, str]:
        """Scope name → limit text (empty: that scope is off)."""
        return {
            name: getattr(self, name)
            for name in ("applications", "admin_login", "member_write", "member_read",
                         "member_lookup", "feed_read", "oprf_reader", "oprf_member")
        }


# ------------------------------------------------------------------ the hub


@dataclass(frozen=True)
class HubConfig(_Settings):
    """Everything the hub reads from its environment, validated when built."""

    data_dir: Path = setting(
        "LIANFANG_DATA_DIR", PATH, Path("./var"),
        "keys (`keys/`), feeds (`feeds/`) and the default SQLite file", shown="`./var`")
    database_url: str = setting(
        "LIANFANG_DATABASE_URL", TEXT, "",
        "SQLAlchemy URL; PostgreSQL: `postgresql+psycopg://user@host/db`",
        shown="`sqlite:///<data_dir>/hub.sqlite3`")
    key_passphrase: str | None = setting(
        "LIANFANG_KEY_PASSPHRASE", SECRET, None,
        "when set, key material at rest is also protected by this passphrase")
    public_url: str = setting(
        "LIANFANG_PUBLIC_URL", URL, "http://127.0.0.1:8000",
        "the hub's public URL (printed by `init`; `https://` marks console cookies Secure)")
    log_level: str = setting(
        "LIANFANG_LOG_LEVEL", LEVEL, "INFO", "level of the `hub` loggers")
    log_format: str = setting(
        "LIANFANG_LOG_FORMAT", LOG_FORMAT, "text",
        "`text` (time level pid logger request id message) or `json` (one object a line)")
    access_log: bool = setting(
        "LIANFANG_ACCESS_LOG", BOOL, True,
        "one `hub.access` line per request (method, route, status, duration, request id)")
    scheduler: bool = setting(
        "LIANFANG_SCHEDULER", BOOL, True,
        "run the background feed build and retention purge in this process")
    feed_build_interval_s: int = setting(
        "LIANFANG_FEED_BUILD_INTERVAL_S", integer(1), 60,
        "seconds between scheduled feed builds")
    webhook_interval_s: int = setting(
        "LIANFANG_WEBHOOK_INTERVAL_S", integer(1), 10,
        "seconds between runs of the webhook delivery job")
    webhook_timeout_s: int = setting(
        "LIANFANG_WEBHOOK_TIMEOUT_S", integer(1, 60), 5,
        "connect and read timeout of one webhook POST")
    webhook_max_attempts: int = setting(
        "LIANFANG_WEBHOOK_MAX_ATTEMPTS", integer(1, 30), 8,
        "attempts before a webhook delivery is marked `failed`")
    webhook_backoff_s: int = setting(
        "LIANFANG_WEBHOOK_BACKOFF_S", integer(1), 30,
        "wait before the 2nd attempt; doubled after each further failure")
    webhook_allow_loopback_http: bool = setting(
        "LIANFANG_WEBHOOK_ALLOW_LOOPBACK_HTTP", BOOL, False,
        "accept `http://127.0.0.1`/`localhost` webhook URLs (tests, local development only)")
    max_body_bytes: int = setting(
        "LIANFANG_MAX_BODY_BYTES", integer(1024), 8 * MIB,
        "larger request bodies get 413 `body_too_large`")
    trusted_proxies: int = setting(
        "LIANFANG_TRUSTED_PROXIES", integer(0), 0,
        "reverse-proxy hops whose `X-Forwarded-For`/`-Proto` are believed")
    clock_window_s: int = setting(
        "LIANFANG_CLOCK_WINDOW_S", integer(1), 300,
        "allowed skew of a signed request's timestamp (±)")
    nonce_retention_s: int = setting(
        "LIANFANG_NONCE_RETENTION_S", integer(1), 900,
        "how long used nonces are remembered; at least twice the clock window")
    idempotency_ttl_s: int = setting(
        "LIANFANG_IDEMPOTENCY_TTL_S", integer(1), 86400,
        "how long a report batch's `Idempotency-Key` replays its answer")
    max_batches_in_flight: int = setting(
        "LIANFANG_MAX_BATCHES_IN_FLIGHT", integer(1), 8,
        "report batches one member may have acknowledged but not yet merged; more → "
        "429 `too_many_batches_in_flight` (with `Retry-After`)")
    merge_consumer: bool = setting(
        "LIANFANG_MERGE_CONSUMER", BOOL, True,
        "run the merge consumer in this hub's scheduler (one per cluster, under a DB "
        "lease); `off` when `lianfang-hub worker` processes do the merging")
    merge_pass_size: int = setting(
        "LIANFANG_MERGE_PASS_SIZE", integer(1), 2000,
        "queued indicators one merge transaction takes (shared equally among members)")
    merge_lease_s: int = setting(
        "LIANFANG_MERGE_LEASE_S", integer(1), 15,
        "the in-hub consumer's cluster lease: a crashed holder's lease lapses after this")
    merge_poll_ms: int = setting(
        "LIANFANG_MERGE_POLL_MS", integer(10), 200,
        "how often an idle merge consumer looks for acknowledged batches")
    max_open_disputes_per_member: int = setting(
        "LIANFANG_MAX_OPEN_DISPUTES_PER_MEMBER", integer(1), 100,
        "open disputes one member may have; more → 409 `too_many_open_disputes`")
    quota_new_indicators_per_day: int = setting(
        "LIANFANG_QUOTA_NEW_INDICATORS_PER_DAY", integer(0), 20000,
        "indicators new to the hub one member may introduce per UTC day; a batch that "
        "would pass it → 429 `quota_exceeded` (0 turns the quota off)")
    dispute_cooloff_days: int = setting(
        "LIANFANG_DISPUTE_COOLOFF_DAYS", integer(0), 30,
        "after an uphold, days before the same member may dispute that listing again "
        "(unless it brings new evidence)")
    case_ttl_days: int = setting(
        "LIANFANG_CASE_TTL_DAYS", integer(1), 180,
        "a complaint case stops linking and corroborating this many days after it was "
        "observed (groups re-derived at the next feed build)")
    case_max_group_joins: int = setting(
        "LIANFANG_CASE_MAX_GROUP_JOINS", integer(1), 3,
        "existing complaint groups one case may touch and still link; a case touching "
        "more links nothing (and merging any two needs two members' cases)")
    reader_tokens_per_member: int = setting(
        "LIANFANG_READER_TOKENS_PER_MEMBER", integer(1), 10_000,
        "reader tokens a member may hold: live ones plus those revoked in the last day, "
        "so revoking and re-minting cannot reset the per-token OPRF quota (issue 20)")
    metrics_access: str = setting(
        "LIANFANG_METRICS_ACCESS", METRICS_ACCESS, "off",
        "who may read `/metrics`: `off` (404), `token` (bearer) or `addresses`")
    metrics_token: str | None = setting(
        "LIANFANG_METRICS_TOKEN", SECRET, None,
        "the bearer token `/metrics` wants when access is `token`")
    metrics_allowed: str = setting(
        "LIANFANG_METRICS_ALLOWED", TEXT, "127.0.0.1,::1",
        "comma-separated client addresses `/metrics` answers when access is `addresses`")
    admin_token_ttl_s: int = setting(
        "LIANFANG_ADMIN_TOKEN_TTL_S", integer(60), 12 * 3600,
        "lifetime of an admin session token")
    admin_max_failures: int = setting(
        "LIANFANG_ADMIN_MAX_FAILURES", integer(1), 5,
        "failed logins before an admin account is locked")
    admin_lockout_s: int = setting(
        "LIANFANG_ADMIN_LOCKOUT_S", integer(1), 15 * 60, "how long that lock lasts")
    consortium_retire_after_s: int = setting(
        "LIANFANG_CONSORTIUM_RETIRE_AFTER_S", integer(1), 30 * 86400,
        "how long a `retiring` consortium key epoch stays before the build retires it")
    policy: MergePolicy = group(MergePolicy)
    feeds: FeedConfig = group(FeedConfig)
    retention: RetentionConfig = group(RetentionConfig)
    ratelimit: RateLimitConfig = group(RateLimitConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.database_url:
            db_path = (self.data_dir / "hub.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{db_path}")
        if self.nonce_retention_s < 2 * self.clock_window_s:
            # A nonce must outlive every timestamp the window still accepts (±window).
            raise ConfigError(
                "LIANFANG_NONCE_RETENTION_S must be at least twice LIANFANG_CLOCK_WINDOW_S "
                f"(got {self.nonce_retention_s} and {self.clock_window_s})"
            )

    @property
    def keys_dir(self) -> Path:
        """Where key material lives (`master.key`, feed/root keys): mode 0700."""
        return self.data_dir / "keys"

    @property
    def feeds_dir(self) -> Path:
        """Where published feed artifacts and manifests live."""
        return self.data_dir / "feeds"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def _default_db(self) -> bool:
        return self.database_url == HubConfig(data_dir=self.data_dir).database_url

    @property
    def min_poll_interval_s(self) -> int:
        """What `keys.json` announces: the feed setting, or the build interval."""
        return self.feeds.min_poll_interval_s or self.feed_build_interval_s

    def with_overrides(self, overrides: Mapping[str, Any]) -> HubConfig:
        """A copy with `overrides` (override keys, or a group's name with a whole group);
        an unknown key or a bad value raises ConfigError naming it."""
        return _build(self, {key: (value, key) for key, value in overrides.items()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HubConfig:
        """Build from `LIANFANG_*` variables; a malformed or unknown one raises ConfigError."""
        env = os.environ if environ is None else environ
        values: dict[str, tuple[Any, str | None]] = {}
        for name, raw in env.items():
            if not name.startswith(PREFIX) or name.startswith(TEST_PREFIX):
                continue
            if name in NOT_HUB_SETTINGS:
                continue
            key = name[len(PREFIX):].lower()
            if key not in SETTINGS:
                raise ConfigError(_unknown(name, [s.env for s in SETTINGS.values()]))
            if raw != "":
                values[key] = (raw, None)
        return _build(cls(), values)


@dataclass(frozen=True)
class Setting:
    """One `LIANFANG_*` variable: where it lives in HubConfig and how it is read."""

    key: str
    env: str
    group: str | None
    name: str
    kind: Kind
    default: Any
    description: str
    shown: str | None

    def shown_default(self) -> str:
        """The default as Markdown: a value in backticks, or `shown` (prose) verbatim."""
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "`on`" if self.default else "`off`"
        return f"`{self.default}`"


def _fields(cls: type, group_name: str | None) -> Iterator[Setting]:
    for f in dataclasses.fields(cls):
        if f.metadata.get("group"):
            # The group's class, not an instance: building one would validate its
            # defaults (and import `limits`) when this module is merely imported.
            yield from _fields(f.default_factory, f.name)  # type: ignore[arg-type]
            continue
        env = f.metadata["env"]
        yield Setting(
            key=env[len(PREFIX):].lower(), env=env, group=group_name, name=f.name,
            kind=f.metadata["kind"], default=f.default, description=f.metadata["description"],
            shown=f.metadata["shown"],
        )


#: Override key → Setting, in declaration order (the reference's order).
SETTINGS: Mapping[str, Setting] = {s.key: s for s in _fields(HubConfig, None)}
_GROUPS = frozenset(f.name for f in dataclasses.fields(HubConfig) if f.metadata.get("group"))


def _unknown(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"{name} is not a hub setting{hint} (the configuration reference is in "
        "docs/OPERATIONS.md)"
    )


def _build(base: HubConfig, values: Mapping[str, tuple[Any, str | None]]) -> HubConfig:
    """`base` with `values` (key → (raw value, key to name in errors or None for the
    variable alone)), every value converted and checked."""
    top: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, (raw, shown_key) in values.items():
        if key in _GROUPS:
            expected = type(getattr(base, key))
            if not isinstance(raw, expected):
                raise ConfigError(f"{key} must be a {expected.__name__} (got {raw!r})")
            top[key] = raw
            continue
        spec = SETTINGS.get(key)
        if spec is None:
            raise ConfigError(_unknown(key, list(SETTINGS)))
        value = _convert(spec.kind, raw, spec.env, shown_key)
        if spec.group is None:
            top[spec.name] = value
        else:
            groups.setdefault(spec.group, {})[spec.name] = value
    for name, changes in groups.items():
        top[name] = dataclasses.replace(top.get(name, getattr(base, name)), **changes)
    if "data_dir" in top and "database_url" not in top and base._default_db():
        top["database_url"] = ""
    return dataclasses.replace(base, **top)


def resolve_config(config: HubConfig | Mapping[str, Any] | None) -> HubConfig:
    """`create_app`'s argument → a HubConfig: None = environment, dict = env + overrides."""
    if isinstance(config, HubConfig):
        return config
    base = HubConfig.from_env()
    if config is None:
        return base
    return base.with_overrides(config)
