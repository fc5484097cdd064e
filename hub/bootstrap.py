"""First-run setup shared by `lianfang-hub init` and the test fixtures.

Idempotent: migrate to head, create the master key, consortium epoch 1 and,
when asked and no admin exists yet, the first admin with a random password.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import func, select

from hub import get_config
from hub.auth.admin_auth import create_admin
from hub.db import get_db, migrate
from hub.feeds.builder import keystore_for
from hub.filemodes import private_dir
from hub.models.admin import Admin
from hub.services.consortium_keys import ensure_master_key
from hub.services.key_rotation import ensure_first_epoch
from hub.services.passwords import generate_password


@dataclass(frozen=True)
class InitResult:
    master_key_created: bool
    epoch_created: bool
    admin_username: str | None
    admin_password: str | None


def initialize(
    app: Flask, *, first_admin: str | None = "admin", admin_password: str | None = None
) -> InitResult:
    """Bring a data dir and database to a usable state; safe to run again."""
    cfg = get_config(app)
    private_dir(cfg.data_dir)
    migrate(cfg.database_url)
    master_created = ensure_master_key(cfg.keys_dir)
    keystore_for(app).ensure()  # root + first feed signing key (hub.feeds.keystore)
    database = get_db(app)
    with app.app_context(), database.new_session() as session:
        epoch_created = ensure_first_epoch(
            session, cfg.keys_dir, cfg.key_passphrase, policy=cfg.policy
        )
        username = password = None
        if first_admin and not session.scalar(select(func.count()).select_from(Admin)):
            password = admin_password or generate_password()
            create_admin(session, first_admin, password, actor="system:init")
            username = first_admin
        session.commit()
    return InitResult(master_created, epoch_created, username, password)
