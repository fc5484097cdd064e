"""HubConfig from the environment and from overrides; start-up refuses bad settings."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import create_app, get_config
from hub.config import (
    NOT_HUB_SETTINGS,
    SETTINGS,
    ConfigError,
    HubConfig,
    MergePolicy,
    resolve_config,
)
from hub.config_reference import DOCUMENT, END, START, render, splice
from tests.helpers.hubproc import HUB_CLI, REPO, hub_env


def test_defaults() -> None:
    cfg = HubConfig.from_env({})
    assert cfg.data_dir == Path("./var")
    assert cfg.database_url == f"sqlite:///{Path('./var/hub.sqlite3').resolve()}"
    assert cfg.feed_build_interval_s == 60
    assert cfg.scheduler is True
    assert cfg.max_body_bytes == 8 * 1024 * 1024
    assert cfg.key_passphrase is None
    assert cfg.policy == MergePolicy()
    assert cfg.min_poll_interval_s == cfg.feed_build_interval_s


def test_environment_values_are_parsed() -> None:
    cfg = HubConfig.from_env(
        {
            "LIANFANG_DATA_DIR": "/srv/lianfang",
            "LIANFANG_SCHEDULER": "off",
            "LIANFANG_FEED_BUILD_INTERVAL_S": "300",
            "LIANFANG_MAX_BODY_BYTES": "1048576",
            "LIANFANG_KEY_PASSPHRASE": "hunter2hunter2",
            "LIANFANG_POLICY_BLOCK_SCORE": "0.9",
            "LIANFANG_FEED_SNAPSHOT_EVERY": "5",
            "LIANFANG_RETENTION_DAYS": "30",
            "LIANFANG_RATELIMIT_ENABLED": "no",
            "LIANFANG_TRUSTED_PROXIES": "2",
            "LIANFANG_LOG_LEVEL": "debug",
            "LIANFANG_TEST_POSTGRES_URL": "postgresql+psycopg://x@y/z",  # test knob, ignored
            "LIANFANG_REQUIRE_POSTGRES": "1",  # read by the test suite, ignored
        }
    )
    assert cfg.data_dir == Path("/srv/lianfang")
    assert cfg.database_url == "sqlite:////srv/lianfang/hub.sqlite3"
    assert cfg.scheduler is False and cfg.feed_build_interval_s == 300
    assert cfg.max_body_bytes == 1024 * 1024 and cfg.key_passphrase == "hunter2hunter2"
    assert cfg.policy.block_score == 0.9 and cfg.feeds.snapshot_every == 5
    assert cfg.retention.report_days == 30 and cfg.ratelimit.enabled is False
    assert cfg.trusted_proxies == 2 and cfg.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "accepts"),
    [
        ("LIANFANG_SCHEDULER", "sometimes", "on or off"),
        ("LIANFANG_FEED_BUILD_INTERVAL_S", "soon", "a whole number ≥ 1"),
        ("LIANFANG_FEED_BUILD_INTERVAL_S", "0", "a whole number ≥ 1"),
        ("LIANFANG_MAX_BODY_BYTES", "-1", "a whole number ≥ 1024"),
        ("LIANFANG_POLICY_BLOCK_SCORE", "abc", "a number between 0 and 1"),
        ("LIANFANG_POLICY_BLOCK_SCORE", "1.5", "a number between 0 and 1"),
        ("LIANFANG_POLICY_BLOCK_SCORE", "nan", "a number between 0 and 1"),
        ("LIANFANG_POLICY_HALF_LIFE_DAYS", "0", "a number > 0"),
        ("LIANFANG_POLICY_WARN_SINGLE_CONFIDENCE", "101", "between 0 and 100"),
        ("LIANFANG_IDEMPOTENCY_TTL_S", "1d", "a whole number ≥ 1"),
        ("LIANFANG_MAX_OPEN_DISPUTES_PER_MEMBER", "0", "a whole number ≥ 1"),
        ("LIANFANG_RATELIMIT_FEED_READ", "lots", "a limit like '600/minute'"),
        ("LIANFANG_RATELIMIT_STORAGE_URI", "bogus://nowhere", "storage URI"),
        ("LIANFANG_TRUSTED_PROXIES", "two", "a whole number ≥ 0"),
        ("LIANFANG_PUBLIC_URL", "hub.example.cn", "an http:// or https:// URL"),
        ("LIANFANG_LOG_LEVEL", "LOUD", "one of DEBUG"),
        ("LIANFANG_FEED_MIN_POLL_INTERVAL_S", "-5", "a whole number ≥ 1"),
    ],
)
def test_bad_values_name_the_variable_and_what_it_accepts(
    name: str, value: str, accepts: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        HubConfig.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} must be ") and accepts in message
    assert repr(value) in message and "\n" not in message


def test_unknown_variables_are_refused_and_a_typo_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"^LIANFANG_FOO is not a hub setting"):
        HubConfig.from_env({"LIANFANG_FOO": "1"})
    with pytest.raises(ConfigError, match="did you mean LIANFANG_POLICY_BLOCK_SCORE"):
        HubConfig.from_env({"LIANFANG_POLICY_BLOK_SCORE": "0.9"})
    # What other programs read on purpose is not the hub's business.
    HubConfig.from_env({name: "x" for name in NOT_HUB_SETTINGS} | {"LIANFANG_TEST_ANY": "x"})


def test_every_setting_round_trips_its_default_through_the_environment() -> None:
    """The variable names are the override keys upper-cased, and each parser takes the
    text form of its own default (the reference shows values a deployment can paste)."""
    for key, spec in SETTINGS.items():
        assert spec.env == "LIANFANG_" + key.upper()
        assert spec.description and spec.kind.accepts
        if spec.default is None or spec.default == "":
            continue
        text = ("on" if spec.default else "off") if isinstance(spec.default, bool) else str(
            spec.default)
        cfg = HubConfig.from_env({spec.env: text})
        holder = cfg if spec.group is None else getattr(cfg, spec.group)
        assert getattr(holder, spec.name) == spec.default, spec.env


@given(st.one_of(st.text(max_size=12), st.floats(allow_nan=True)))
def test_the_block_score_accepts_exactly_the_numbers_in_0_1(raw: str | float) -> None:
    try:
        number = float(raw)
    except ValueError:
        number = None
    valid = number is not None and 0 <= number <= 1
    try:
        cfg = HubConfig().with_overrides({"policy_block_score": raw})
    except ConfigError as exc:
        assert not valid and "policy_block_score (LIANFANG_POLICY_BLOCK_SCORE)" in str(exc)
    else:
        assert valid and cfg.policy.block_score == number


def test_overrides_move_the_default_database_with_the_data_dir(tmp_path: Path) -> None:
    cfg = HubConfig.from_env({}).with_overrides({"data_dir": tmp_path})
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'hub.sqlite3'}"
    explicit = resolve_config(HubConfig(database_url="postgresql+psycopg://x/y"))
    assert explicit.database_url == "postgresql+psycopg://x/y"


def test_overrides_reach_every_group() -> None:
    cfg = HubConfig().with_overrides({
        "policy_block_min_members": "3", "policy_half_life_days": 7,
        "feed_snapshot_every": 1, "purge_interval_s": 60, "ratelimit_applications": "",
        "max_open_disputes_per_member": 2, "idempotency_ttl_s": 5,
    })
    assert cfg.policy == MergePolicy(block_min_members=3, half_life_days=7.0)
    assert cfg.feeds.snapshot_every == 1 and cfg.retention.interval_s == 60
    assert cfg.ratelimit.scopes()["applications"] == ""
    assert (cfg.max_open_disputes_per_member, cfg.idempotency_ttl_s) == (2, 5)
    whole = cfg.with_overrides({"policy": MergePolicy(block_score=0.95)})
    assert whole.policy.block_score == 0.95
    with pytest.raises(ConfigError, match="policy must be a MergePolicy"):
        cfg.with_overrides({"policy": {"block_score": 0.95}})


def test_create_app_takes_a_dict_or_a_config(tmp_path: Path) -> None:
    app = create_app({"data_dir": tmp_path, "scheduler": False, "max_body_bytes": 4096})
    assert get_config(app).max_body_bytes == 4096
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    cfg = HubConfig(data_dir=tmp_path, scheduler=False)
    assert get_config(create_app(cfg)) is cfg


def test_create_app_refuses_a_bad_value_or_an_unknown_key(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "scheduler": False}
    with pytest.raises(ConfigError, match=r"^policy_block_score \(LIANFANG_POLICY_BLOCK_SCORE\) "
                                          r"must be a number between 0 and 1 \(got 'abc'\)$"):
        create_app({**base, "policy_block_score": "abc"})
    with pytest.raises(ConfigError, match="^merge_half_life_days is not a hub setting"):
        create_app({**base, "merge_half_life_days": 7})
    with pytest.raises(ConfigError, match="max_open_disputes_per_member"):
        create_app({**base, "max_open_disputes_per_member": True})


def test_create_app_refuses_a_bad_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIANFANG_POLICY_BLOCK_SCORE", "abc")
    with pytest.raises(ConfigError, match="^LIANFANG_POLICY_BLOCK_SCORE must be a number"):
        create_app({"data_dir": tmp_path, "scheduler": False})
    monkeypatch.delenv("LIANFANG_POLICY_BLOCK_SCORE")
    monkeypatch.setenv("LIANFANG_FOO", "1")
    with pytest.raises(ConfigError, match="^LIANFANG_FOO is not a hub setting"):
        create_app({"data_dir": tmp_path, "scheduler": False})


def test_nonce_retention_must_cover_the_clock_window() -> None:
    with pytest.raises(ConfigError, match="LIANFANG_NONCE_RETENTION_S"):
        HubConfig.from_env({"LIANFANG_CLOCK_WINDOW_S": "600"})
    assert (
        HubConfig.from_env(
            {"LIANFANG_CLOCK_WINDOW_S": "600", "LIANFANG_NONCE_RETENTION_S": "1200"}
        ).nonce_retention_s
        == 1200
    )


# ------------------------------------------------------------- the real command


@pytest.mark.parametrize("command", [["serve", "--port", "9"], ["init"], ["members", "list"]])
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LIANFANG_POLICY_BLOCK_SCORE", "abc",
         "Error: LIANFANG_POLICY_BLOCK_SCORE must be a number between 0 and 1 (got 'abc')"),
        ("LIANFANG_FOO", "1", "Error: LIANFANG_FOO is not a hub setting"),
    ],
)
def test_lianfang_hub_stops_at_once_on_a_bad_setting(
    tmp_path: Path, command: list[str], variable: str, value: str, expected: str
) -> None:
    """The installed console script exits 1 with one line, before touching anything:
    no data directory, no database, no listening socket."""
    data_dir = tmp_path / "data"
    started = time.monotonic()
    done = subprocess.run(
        [*HUB_CLI, *command], env=hub_env(LIANFANG_DATA_DIR=str(data_dir), **{variable: value}),
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
    assert done.stdout == ""
    assert not data_dir.exists()


# ------------------------------------------------------------- the reference


def test_the_configuration_reference_in_the_docs_is_up_to_date() -> None:
    """docs/OPERATIONS.md holds exactly what `python -m hub.config_reference` writes."""
    document = DOCUMENT.read_text(encoding="utf-8")
    assert document == splice(document, render()), (
        "docs/OPERATIONS.md is out of date: run `python -m hub.config_reference`"
    )
    table = document.split(START, 1)[1].split(END, 1)[0]
    for spec in SETTINGS.values():
        assert f"| `{spec.env}` |" in table


def test_the_reference_changes_when_a_setting_does() -> None:
    stale = f"intro\n{START}\n| `LIANFANG_OLD` | … |\n{END}\nafter\n"
    fresh = splice(stale, render())
    assert fresh != stale and "LIANFANG_OLD" not in fresh
    assert fresh.startswith("intro\n") and fresh.endswith(f"{END}\nafter\n")
    with pytest.raises(ValueError, match="markers"):
        splice("no markers here", render())


def test_services_read_no_configuration_of_their_own() -> None:
    """Every service receives its settings as arguments from its caller (API view, CLI,
    scheduler): none reaches for the app's configuration, with or without a fallback."""
    services = REPO / "hub" / "services"
    offenders = [
        f"{path.name}: {word}"
        for path in sorted(services.rglob("*.py"))
        for word in ("get_config", "has_app_context", "current_app")
        if word in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
