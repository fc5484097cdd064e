"""Retention purge: what goes, what stays, and the audit chain across purges.

The clock is moved with `time_machine` (the only fake); everything else is the
real hub over HTTP, the real feed builder and the real purge, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from hub import get_config
from hub.db import get_db
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds
from hub.models.audit import AuditEntry
from hub.models.feed_change import FeedChange
from hub.models.nonce import SeenNonce
from hub.models.report import Report, ReportBatch
from hub.models.tokens import AdminToken
from hub.services.audit import verify_chain
from hub.services.retention import RetentionSettings, purge
from schemas.manifest import phone_key
from schemas.timefmt import format_time
from tests.hub.reports_support import count, hv, rep, report

# After the fixture's real-time admin login, so its 12-hour session expires in the test.
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def _block_keys(app, feed: str = "phone-block") -> set[int]:
    """A phone feed's set as published on disk (manifest + artifacts)."""
    from hub import get_config

    paths = pub.feed_paths(get_config(app).feeds_dir, feed)
    return {int(k) for k in np.asarray(pub.build_key_set_from_artifacts(paths.root))}


def _chain_ok(app) -> bool:
    with app.app_context(), get_db(app).new_session(write=False) as session:
        ok, first_bad = verify_chain(session)
    assert first_bad is None or not ok
    return ok


def _last_audit(app) -> AuditEntry:
    with app.app_context(), get_db(app).new_session(write=False) as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()


def test_expired_reports_are_purged_only_after_the_retention_period(live_hub) -> None:
    app = live_hub.app
    with time_machine.travel(T0, tick=True):
        a, b = live_hub.new_member(), live_hub.new_member()
        short, long_ = hv(), hv()
        short_expiry = format_time(T0 + timedelta(days=10))
        for member in (a, b):
            ok = report(live_hub, member, [rep(short, expires_at=short_expiry), rep(long_)])
            assert ok.status_code == 200, ok.text
        build_feeds(app)
        assert _block_keys(app) == {phone_key(short), phone_key(long_)}
        assert count(live_hub, Report) == 4

    # 10 days to expiry + 89 days: expired, but not yet past the retention period.
    with time_machine.travel(T0 + timedelta(days=99), tick=True):
        assert build_feeds(app).published  # expiry takes `short` out; decay moves `long_`
        assert _block_keys(app) == set()
        assert _block_keys(app, "phone-warn") == {phone_key(long_)}
        assert purge(app, get_config(app)).reports == 0
        assert count(live_hub, Report) == 4

    with time_machine.travel(T0 + timedelta(days=101), tick=True):
        result = purge(app, get_config(app))
        assert result.reports == 2
        assert count(live_hub, Report) == 2
        build_feeds(app)
        assert _block_keys(app, "phone-warn") == {phone_key(long_)}
        entry = _last_audit(app)
        assert entry.action == "retention.purge" and entry.actor == "system"
        assert '"reports":2' in entry.details

    # The default lifetime is 180 days from last_seen: gone 90 days after that.
    with time_machine.travel(T0 + timedelta(days=180 + 91), tick=True):
        assert purge(app, get_config(app)).reports == 2
        assert count(live_hub, Report) == 0
        build_feeds(app)
        assert _block_keys(app) | _block_keys(app, "phone-warn") == set()
    assert _chain_ok(app)


def test_purge_removes_used_nonces_and_dead_admin_sessions(live_hub) -> None:
    app = live_hub.app
    with time_machine.travel(T0, tick=True):
        member = live_hub.new_member()
        assert report(live_hub, member, [rep(hv())]).status_code == 200
        assert count(live_hub, SeenNonce) >= 1
        tokens_before = count(live_hub, AdminToken)
        assert tokens_before >= 1
        fresh = purge(app, get_config(app))
        assert fresh.nonces == 0 and fresh.admin_tokens == 0  # all still live
    with time_machine.travel(T0 + timedelta(days=1), tick=True):
        result = purge(app, get_config(app))
        assert result.nonces >= 1 and count(live_hub, SeenNonce) == 0
        assert result.admin_tokens == tokens_before and count(live_hub, AdminToken) == 0
        # Members keep working after their old nonces are gone.
        assert report(live_hub, member, [rep(hv())], wait=False).status_code == 200
        assert count(live_hub, SeenNonce) == 1
    assert _chain_ok(app)


def test_consumed_journal_rows_go_and_unconsumed_ones_reach_the_next_build(live_hub) -> None:
    app = live_hub.app
    with time_machine.travel(T0, tick=True):
        a, b = live_hub.new_member(), live_hub.new_member()
        first = hv()
        for member in (a, b):
            report(live_hub, member, [rep(first)])
        build_feeds(app)
        consumed = count(live_hub, FeedChange)
        assert consumed >= 1
    with time_machine.travel(T0 + timedelta(days=3), tick=True):
        assert purge(app, get_config(app)).feed_changes == 0  # consumed but younger than 7 days
    with time_machine.travel(T0 + timedelta(days=8), tick=True):
        later = hv()
        for member in (a, b):
            report(live_hub, member, [rep(later)])
        pending = count(live_hub, FeedChange) - consumed
        assert pending >= 1
        result = purge(app, get_config(app))
        assert result.feed_changes == consumed
        assert count(live_hub, FeedChange) == pending
        build_feeds(app)
        assert _block_keys(app) == {phone_key(first), phone_key(later)}
    assert _chain_ok(app)


def test_stale_artifacts_are_collected_and_the_live_feed_still_verifies(live_hub) -> None:
    from hub import get_config

    app = live_hub.app
    paths = pub.feed_paths(get_config(app).feeds_dir, "phone-block")
    with time_machine.travel(T0, tick=True):
        a, b = live_hub.new_member(), live_hub.new_member()
        build_feeds(app)
        for _ in range(3):
            value = hv()
            for member in (a, b):
                report(live_hub, member, [rep(value)])
            build_feeds(app)
        # Orphans, as a crashed build leaves behind, are unreferenced from now on.
        orphan = paths.artifacts / ("ab" * 32 + ".lfa")
        orphan.write_bytes(b"left by a crash")
        purge(app, get_config(app))
        assert orphan.exists(), "the retention window starts when an artifact is unreferenced"
    with time_machine.travel(T0 + timedelta(days=8), tick=True):
        result = purge(app, get_config(app))
        assert result.artifacts >= 1 and not orphan.exists()
        live = pub.read_manifest(paths)
        assert live is not None
        left = {p.name for p in paths.artifacts.iterdir()}
        assert pub.referenced(live["signed"]) <= left
        assert len(_block_keys(app)) == 3


def test_audit_chain_survives_repeated_purges(live_hub) -> None:
    app = live_hub.app
    with app.app_context(), get_db(app).new_session(write=False) as session:
        before = int(session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) or 0)
    member = live_hub.new_member()
    for days in (0, 30, 200, 400):
        with time_machine.travel(T0 + timedelta(days=days), tick=True):
            assert report(live_hub, member, [rep(hv())]).status_code == 200
            purge(app, get_config(app))
            assert _chain_ok(app)
    with app.app_context(), get_db(app).new_session(write=False) as session:
        actions = list(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.id > before).order_by(AuditEntry.id)
            )
        )
    assert actions.count("retention.purge") == 4
    assert len(actions) > 4, "no audit row was deleted: every earlier entry is still there"


def test_purge_cli_prints_counts_and_records_the_run(live_hub, db_url: str) -> None:
    from hub.cli import main

    with time_machine.travel(T0 + timedelta(days=2), tick=True):
        result = CliRunner().invoke(
            main,
            ["--data-dir", str(live_hub.data_dir), "--database-url", db_url, "purge"],
        )
    assert result.exit_code == 0, result.output
    assert "purged 0 report(s)" in result.output and "admin session(s)" in result.output
    assert _last_audit(live_hub.app).action == "retention.purge"
    assert _chain_ok(live_hub.app)


def test_retention_settings_from_config(tmp_path: Path) -> None:
    from hub.config import ConfigError, HubConfig

    cfg = HubConfig.from_env(
        {"LIANFANG_DATA_DIR": str(tmp_path), "LIANFANG_RETENTION_DAYS": "30",
         "LIANFANG_PURGE_INTERVAL_S": "600"}
    )
    settings = RetentionSettings.from_config(cfg)
    assert (settings.report_days, settings.journal_days, settings.interval_s) == (30, 7, 600)
    assert RetentionSettings.from_config(HubConfig(data_dir=tmp_path)) == RetentionSettings()
    with pytest.raises(ConfigError, match="LIANFANG_RETENTION_DAYS"):
        HubConfig.from_env({"LIANFANG_DATA_DIR": str(tmp_path), "LIANFANG_RETENTION_DAYS": "x"})
    with pytest.raises(ConfigError, match="LIANFANG_PURGE_INTERVAL_S"):
        HubConfig.from_env({"LIANFANG_PURGE_INTERVAL_S": "59"})


def test_scheduler_runs_the_purge_next_to_the_feed_build(hub_app, db_url: str) -> None:
    from hub import create_app, get_config
    from hub.feeds import scheduler

    cfg = get_config(hub_app)
    app = create_app({"database_url": db_url, "data_dir": cfg.data_dir, "scheduler": True,
                      "feed_build_interval_s": 3600, "purge_interval_s": 60})
    try:
        jobs = {job.id: job for job in app.extensions["lianfang_feed_scheduler"].get_jobs()}
        assert set(jobs) == {"feed-build", "retention-purge", "webhook-delivery"}
        assert jobs["retention-purge"].trigger.interval == timedelta(seconds=60)
        scheduler.run_purge(app)  # what the job calls
        assert _last_audit(app).action == "retention.purge"
    finally:
        scheduler.stop(app)
        get_db(app).dispose()


def test_a_batch_body_lives_as_long_as_one_of_its_reports(live_hub, db_url: str) -> None:
    """Provenance is kept for the retention period and no longer (issue 14): the signed
    body of a batch goes once its last report is purged, not before."""
    app = live_hub.app
    with time_machine.travel(T0, tick=True):
        a = live_hub.new_member()
        short, long_ = hv(), hv()
        soon = format_time(T0 + timedelta(days=10))
        gone = report(live_hub, a, [rep(short, expires_at=soon)]).json()["batch_id"]
        kept = report(live_hub, a, [rep(long_), rep(hv(), expires_at=soon)]).json()["batch_id"]

    def body(batch_id: str) -> bytes | None:
        with get_db(app).new_session(write=False) as session:
            return session.get(ReportBatch, batch_id).body

    assert body(gone) is not None and body(kept) is not None
    with time_machine.travel(T0 + timedelta(days=101), tick=True):
        result = purge(app, get_config(app))
    assert result.reports == 2 and result.batch_bodies == 1
    assert body(gone) is None
    assert body(kept) is not None  # its other report is still there to be re-verified
    from hub.cli import main

    out = CliRunner().invoke(main, ["--data-dir", str(live_hub.data_dir), "--database-url",
                                    db_url, "verify-provenance"])
    assert out.exit_code == 0, out.output  # the surviving report still verifies
