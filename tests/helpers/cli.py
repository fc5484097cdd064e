"""Driving the `lianfang` CLI as a bank engineer would: click's runner, a key file and a
config file written once, against the real hub over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from client_sdk.cli import cli

NO_CONFIG = {"LIANFANG_CONFIG": "/nonexistent/lianfang.toml"}
"""Tests never read the developer's ~/.config/lianfang/config.toml."""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**NO_CONFIG, **(env or {})},
                              catch_exceptions=False)


def run_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """Run with `--output json`: (exit code, the one JSON document on stdout)."""
    result = run(*args, "--output", "json", env=env)
    return result.exit_code, json.loads(result.stdout)


@dataclass
class Bank:
    """An approved member with its key and a config file naming hub, key and member id."""

    member_id: str
    key_path: Path
    config: Path

    @property
    def env(self) -> dict[str, str]:
        return {"LIANFANG_CONFIG": str(self.config)}


def configured_bank(live_hub: Any, directory: Path, name: str = "bank") -> Bank:
    member_id, key = live_hub.new_member()
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"{name}.pem"
    key_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_path.chmod(0o600)
    config = directory / f"{name}.toml"
    config.write_text(f'hub = "{live_hub.url}"\nkey = "{key_path.name}"\n'
                      f'member_id = "{member_id}"\n', encoding="utf-8")
    return Bank(member_id, key_path, config)
