"""The background build job: started by create_app when the config asks for it."""

from __future__ import annotations

import time

from flask import Flask

from hub import create_app, get_config
from hub.db import get_db
from hub.feeds import publisher as pub
from hub.feeds import scheduler


def test_scheduler_builds_feeds_in_the_background(hub_app: Flask, db_url: str) -> None:
    cfg = get_config(hub_app)
    assert "lianfang_feed_scheduler" not in hub_app.extensions, "tests run with it off"
    app = create_app({"database_url": db_url, "data_dir": cfg.data_dir, "scheduler": True,
                      "feed_build_interval_s": 1})
    try:
        assert "lianfang_feed_scheduler" in app.extensions
        manifest = pub.feed_paths(cfg.feeds_dir, "phone-block").manifest
        deadline = time.monotonic() + 60
        while not manifest.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert manifest.exists(), "the scheduled build never published"
    finally:
        scheduler.stop(app)
        get_db(app).dispose()
    assert "lianfang_feed_scheduler" not in app.extensions
