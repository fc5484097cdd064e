"""Hub configuration: one frozen dataclass built from `LIANFANG_*` environment variables.

Why a dataclass and not Flask's dict: every setting has a type, a default and a
docstring in one place, tests override it with a plain dict, and the README table
is generated from the same field list by reading this module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{name} must be on/off (got {text!r})")


def _parse_int(name: str, text: str, minimum: int = 0) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer (got {text!r})") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum} (got {value})")
    return value


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub reads from its environment.

    `extra` holds settings owned by other parts of the hub (feeds, policy) that
    are passed as overrides or `LIANFANG_*` variables not modelled here; read
    them with `config.get(name, default)`.
    """

    data_dir: Path = Path("./var")
    database_url: str = ""
    key_passphrase: str | None = None
    feed_build_interval_s: int = 60
    scheduler: bool = True
    max_body_bytes: int = 8 * MIB
    clock_window_s: int = 300
    nonce_retention_s: int = 900
    admin_token_ttl_s: int = 12 * 3600
    admin_max_failures: int = 5
    admin_lockout_s: int = 15 * 60
    consortium_retire_after_s: int = 30 * 24 * 3600
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    metrics_access: str = "off"
    metrics_token: str | None = None
    metrics_allowed: str = "127.0.0.1,::1"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            db_path = (self.data_dir / "hub.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{db_path}")
        if self.nonce_retention_s < 2 * self.clock_window_s:
            # A nonce must outlive every timestamp the window still accepts (±window).
            raise ValueError(
                "LIANFANG_NONCE_RETENTION_S must be at least twice LIANFANG_CLOCK_WINDOW_S"
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

    def get(self, name: str, default: Any = None) -> Any:
        """A setting by name: a modelled field first, then `extra`."""
        if name in _FIELD_NAMES:
            return getattr(self, name)
        return self.extra.get(name, default)

    def with_overrides(self, overrides: Mapping[str, Any]) -> HubConfig:
        """A copy with `overrides`; unknown names go to `extra` for other parts."""
        known = {k: v for k, v in overrides.items() if k in _FIELD_NAMES and k != "extra"}
        unknown = {k: v for k, v in overrides.items() if k not in _FIELD_NAMES}
        extra = {**self.extra, **unknown, **dict(overrides.get("extra", {}))}
        if "data_dir" in known and "database_url" not in known and self._default_db():
            known["database_url"] = ""
        return dataclasses.replace(self, **known, extra=extra)

    def _default_db(self) -> bool:
        return self.database_url == HubConfig(data_dir=self.data_dir).database_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HubConfig:
        """Build from `LIANFANG_*` variables; a malformed value raises ValueError naming it."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for name, (env_name, parse) in _ENV.items():
            raw = env.get(env_name)
            if raw is not None and raw != "":
                kwargs[name] = parse(env_name, raw)
        modelled = {env_name for env_name, _ in _ENV.values()}
        extra = {
            key[len("LIANFANG_") :].lower(): value
            for key, value in env.items()
            if key.startswith("LIANFANG_")
            and key not in modelled
            and not key.startswith("LIANFANG_TEST_")
        }
        return cls(**kwargs, extra=extra)


def _str(_name: str, text: str) -> str:
    return text


def _path(_name: str, text: str) -> Path:
    return Path(text)


# field name -> (environment variable, parser); README table mirrors this.
_ENV: dict[str, tuple[str, Any]] = {
    "data_dir": ("LIANFANG_DATA_DIR", _path),
    "database_url": ("LIANFANG_DATABASE_URL", _str),
    "key_passphrase": ("LIANFANG_KEY_PASSPHRASE", _str),
    "feed_build_interval_s": ("LIANFANG_FEED_BUILD_INTERVAL_S", lambda n, t: _parse_int(n, t, 1)),
    "scheduler": ("LIANFANG_SCHEDULER", _parse_bool),
    "max_body_bytes": ("LIANFANG_MAX_BODY_BYTES", lambda n, t: _parse_int(n, t, 1024)),
    "clock_window_s": ("LIANFANG_CLOCK_WINDOW_S", lambda n, t: _parse_int(n, t, 1)),
    "nonce_retention_s": ("LIANFANG_NONCE_RETENTION_S", lambda n, t: _parse_int(n, t, 1)),
    "admin_token_ttl_s": ("LIANFANG_ADMIN_TOKEN_TTL_S", lambda n, t: _parse_int(n, t, 60)),
    "admin_max_failures": ("LIANFANG_ADMIN_MAX_FAILURES", lambda n, t: _parse_int(n, t, 1)),
    "admin_lockout_s": ("LIANFANG_ADMIN_LOCKOUT_S", lambda n, t: _parse_int(n, t, 1)),
    "consortium_retire_after_s": (
        "LIANFANG_CONSORTIUM_RETIRE_AFTER_S",
        lambda n, t: _parse_int(n, t, 1),
    ),
    "public_url": ("LIANFANG_PUBLIC_URL", _str),
    "log_level": ("LIANFANG_LOG_LEVEL", _str),
    "metrics_access": ("LIANFANG_METRICS_ACCESS", _str),
    "metrics_token": ("LIANFANG_METRICS_TOKEN", _str),
    "metrics_allowed": ("LIANFANG_METRICS_ALLOWED", _str),
}

_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(HubConfig))


def resolve_config(config: HubConfig | Mapping[str, Any] | None) -> HubConfig:
    """`create_app`'s argument → a HubConfig: None = environment, dict = env + overrides."""
    if isinstance(config, HubConfig):
        return config
    base = HubConfig.from_env()
    if config is None:
        return base
    return base.with_overrides(config)
