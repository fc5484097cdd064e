"""HubConfig from the environment and from overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import create_app, get_config
from hub.config import HubConfig, resolve_config


def test_defaults() -> None:
    cfg = HubConfig.from_env({})
    assert cfg.data_dir == Path("./var")
    assert cfg.database_url == f"sqlite:///{Path('./var/hub.sqlite3').resolve()}"
    assert cfg.feed_build_interval_s == 60
    assert cfg.scheduler is True
    assert cfg.max_body_bytes == 8 * 1024 * 1024
    assert cfg.key_passphrase is None


def test_environment_values_are_parsed() -> None:
    cfg = HubConfig.from_env(
        {
            "LIANFANG_DATA_DIR": "/srv/lianfang",
            "LIANFANG_SCHEDULER": "off",
            "LIANFANG_FEED_BUILD_INTERVAL_S": "300",
            "LIANFANG_MAX_BODY_BYTES": "1048576",
            "LIANFANG_KEY_PASSPHRASE": "hunter2hunter2",
            "LIANFANG_FEED_TTL_S": "86400",
        }
    )
    assert cfg.data_dir == Path("/srv/lianfang")
    assert cfg.database_url == "sqlite:////srv/lianfang/hub.sqlite3"
    assert cfg.scheduler is False and cfg.feed_build_interval_s == 300
    assert cfg.max_body_bytes == 1024 * 1024 and cfg.key_passphrase == "hunter2hunter2"
    assert cfg.get("feed_ttl_s") == "86400"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIANFANG_SCHEDULER", "sometimes"),
        ("LIANFANG_FEED_BUILD_INTERVAL_S", "soon"),
        ("LIANFANG_FEED_BUILD_INTERVAL_S", "0"),
        ("LIANFANG_MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        HubConfig.from_env({name: value})


def test_overrides_move_the_default_database_with_the_data_dir(tmp_path: Path) -> None:
    cfg = HubConfig.from_env({}).with_overrides({"data_dir": tmp_path, "merge_half_life_days": 7})
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'hub.sqlite3'}"
    assert cfg.get("merge_half_life_days") == 7
    explicit = resolve_config(HubConfig(database_url="postgresql+psycopg://x/y"))
    assert explicit.database_url == "postgresql+psycopg://x/y"


def test_create_app_takes_a_dict_or_a_config(tmp_path: Path) -> None:
    app = create_app({"data_dir": tmp_path, "scheduler": False, "max_body_bytes": 4096})
    assert get_config(app).max_body_bytes == 4096
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    cfg = HubConfig(data_dir=tmp_path, scheduler=False)
    assert get_config(create_app(cfg)) is cfg


def test_nonce_retention_must_cover_the_clock_window() -> None:
    with pytest.raises(ValueError, match="LIANFANG_NONCE_RETENTION_S"):
        HubConfig.from_env({"LIANFANG_CLOCK_WINDOW_S": "600"})
    assert (
        HubConfig.from_env(
            {"LIANFANG_CLOCK_WINDOW_S": "600", "LIANFANG_NONCE_RETENTION_S": "1200"}
        ).nonce_retention_s
        == 1200
    )
