"""Backup and restore drills (issue 18): a restored hub never forks a feed.

Driven as an operator would: `lianfang-hub backup` on the running hub, reports
and builds going on while a real screener (FeedClient + CallScreener) syncs,
the data directory and the database destroyed, `lianfang-hub restore` of the
*older* backup, `build-feeds` — and the same screener, with no manual step,
accepts the next version and screens with the restored set.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from client_sdk.feed_client import FeedClient
from client_sdk.member_client import MemberClient
from client_sdk.screener import CallScreener
from hub.db import get_db
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds, keystore_for
from tests.helpers.hub import TEST_RATE_LIMITS, LiveHub, serve_hub
from tests.helpers.hubproc import cli_args, hub_env

FRAUD_EARLY = ["13812345678", "13987654321"]
FRAUD_LATE = ["13711112222", "13655556666"]


def _cli(data_dir: Path, db_url: str, *command: str) -> str:
    done = subprocess.run(cli_args(data_dir, db_url, *command), env=hub_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def _destroy_database(db_url: str) -> None:
    """Lose the database: the SQLite file, or every table of the PostgreSQL schema."""
    url = make_url(db_url)
    if url.drivername.startswith("sqlite"):
        Path(url.database or "").unlink()
        return
    schema = url.query["options"].split("=", 1)[1]  # type: ignore[union-attr]
    engine = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


@contextmanager
def _restored_hub(db_url: str, data_dir: Path) -> Iterator[LiveHub]:
    """The restored data served again (no init: the backup holds the admin and keys)."""
    from werkzeug.serving import make_server

    from hub import create_app

    app = create_app({"database_url": db_url, "data_dir": data_dir, "scheduler": False,
                      **TEST_RATE_LIMITS})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveHub(url=f"http://127.0.0.1:{server.server_port}", app=app, data_dir=data_dir)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        get_db(app).dispose()


def _versions(results: dict[str, Any]) -> dict[str, int]:
    assert all(r.ok for r in results.values()), {f: r.error for f, r in results.items()}
    return {feed: r.version for feed, r in results.items()}


@pytest.mark.parametrize("lost_feeds", [False, True], ids=["feeds-kept", "feeds-lost"])
def test_restore_drill_screener_accepts_the_next_version(
    db_url: str, tmp_path: Path, lost_feeds: bool
) -> None:
    data = tmp_path / "data"
    cdn = tmp_path / "cdn"  # where every build is exported, as a CDN deployment does
    with serve_hub(db_url, data) as hub:
        with hub.app.app_context():
            root = keystore_for(hub.app).root_public_b64()
        members = [hub.new_member(), hub.new_member()]
        banks = [MemberClient(hub.url, key, mid) for mid, key in members]
        token = banks[0].mint_reader_token()
        for bank in banks:
            bank.report("phone", FRAUD_EARLY, "fraud", 95)
        build_feeds(hub.app)
        screener_state = tmp_path / "screener"
        feeds = FeedClient(hub.url, root, screener_state, token=token)
        first = _versions(feeds.sync())

        backup = tmp_path / "backup"
        summary = json.loads(_cli(data, db_url, "backup", str(backup)))
        assert summary["feeds"]["phone-block"] == first["phone-block"]
        # the keys exactly as on disk: private keys stay encrypted with the passphrase
        for key_file in (data / "keys").iterdir():
            if key_file.is_file() and not key_file.name.endswith(".lock"):
                assert (backup / "keys" / key_file.name).read_bytes() == key_file.read_bytes()

        # After the backup: more reports, two more versions, the screener keeps syncing.
        for bank in banks:
            bank.report("phone", FRAUD_LATE, "fraud", 95)
        build_feeds(hub.app)
        banks[0].report("phone", ["13500001111"], "fraud", 95)
        build_feeds(hub.app)
        _cli(data, db_url, "export-feeds", str(cdn))
        later = _versions(feeds.sync())
        assert later["phone-block"] > first["phone-block"]
        assert CallScreener(feeds).check(FRAUD_LATE[0]).action == "block"

    # The disaster: the database, the keys and (maybe) the feed directory are gone.
    _destroy_database(db_url)
    if lost_feeds:
        shutil.rmtree(data)
        restored = _cli(data, db_url, "restore", str(backup), "--published-from", str(cdn))
        assert json.loads(restored)["published_floors"]["phone-block"] == later["phone-block"]
    else:
        kept = tmp_path / "kept-feeds"
        shutil.move(data / "feeds", kept)
        shutil.rmtree(data)
        _cli(data, db_url, "restore", str(backup))
        # an older database next to newer published feeds: put the newer files back
        shutil.rmtree(data / "feeds")
        shutil.move(kept, data / "feeds")

    out = _cli(data, db_url, "build-feeds")
    assert f"published phone-block v{later['phone-block'] + 1}" in out
    with _restored_hub(db_url, data) as hub:
        feeds = FeedClient(hub.url, root, screener_state, token=token)
        after = _versions(feeds.sync())
        # every feed whose set differs continues right above what was published
        assert after["phone-block"] == later["phone-block"] + 1
        assert all(after[feed] >= version for feed, version in later.items())
        screener = CallScreener(feeds)
        # the set is the restored database's: reports after the backup are lost
        assert screener.check(FRAUD_EARLY[0]).action == "block"
        assert screener.check(FRAUD_LATE[0]).action == "allow"
        # and publishing goes on normally afterwards, for the same screener
        for mid, key in members:
            MemberClient(hub.url, key, mid).report("phone", FRAUD_LATE, "fraud", 95)
        build_feeds(hub.app)
        assert _versions(feeds.sync())["phone-block"] == later["phone-block"] + 2
        assert screener.check(FRAUD_LATE[0]).action == "block"


def test_restore_refuses_a_non_empty_target_and_an_incomplete_backup(
    hub_app: Any, db_url: str, tmp_path: Path
) -> None:
    data = Path(hub_app.config["LIANFANG"].data_dir)
    backup = tmp_path / "backup"
    _cli(data, db_url, "backup", str(backup))
    refused = subprocess.run(cli_args(data, db_url, "restore", str(backup)), env=hub_env(),
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: ") and "not empty" in refused.stderr
    assert "Traceback" not in refused.stderr
    (backup / "backup.json").unlink()
    other = tmp_path / "other"
    refused = subprocess.run(cli_args(other, db_url, "restore", str(backup)), env=hub_env(),
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "not a complete backup" in refused.stderr
    again = subprocess.run(cli_args(data, db_url, "backup", str(backup)), env=hub_env(),
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 1 and "not empty" in again.stderr


def test_export_method_round_trips_every_table(hub_app: Any, db_url: str, tmp_path: Path) -> None:
    """The portable export (PostgreSQL without pg_dump) restores the same rows."""
    from sqlalchemy import func, select

    from hub.backup import backup, restore
    from hub.config import HubConfig
    from hub.models.base import Base

    cfg = hub_app.config["LIANFANG"]
    build_feeds(hub_app)
    with hub_app.app_context():
        result = backup(hub_app, cfg, tmp_path / "b", method="export")
    assert result.method == "export"

    def counts(url: str) -> dict[str, int]:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                        for t in Base.metadata.sorted_tables if t.name != "build_leases"}
        finally:
            engine.dispose()

    before = counts(db_url)
    get_db(hub_app).dispose()
    _destroy_database(db_url)
    target = HubConfig(data_dir=tmp_path / "restored", database_url=db_url)
    restore(target, tmp_path / "b")
    assert counts(db_url) == before
    assert pub.read_manifest(pub.feed_paths(target.feeds_dir, "phone-block")) is not None
