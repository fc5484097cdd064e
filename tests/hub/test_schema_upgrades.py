"""Upgrades and readiness against the real `lianfang-hub` process (issue 18).

The 0.1.0 release shipped revisions 0001–0004. The upgrade test builds such a
database with Alembic, fills it with rows written in that release's table
shapes (raw SQL, so later model changes cannot hide a broken migration), runs
`lianfang-hub migrate` and checks the rows, then that `serve` and `/readyz`
accept the result. Un-migrated, older and newer databases are refused.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import MetaData, Table, create_engine, insert, select, text, update

from hub.db import migrate
from hub.schema_state import expected_revision
from tests.helpers.hubproc import HubProcess, cli_args, hub_env
from tests.helpers.processes import free_port

RELEASE_0_1_0_HEAD = "0004_allowlist_numbers"


def _cli(data_dir: Path, db_url: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(data_dir, db_url, *command),
        env=hub_env(), capture_output=True, text=True, timeout=120, check=False,
    )


def _seed_release_0_1_0(db_url: str) -> None:
    """Two members and a report, in the table shapes of revision 0004."""
    now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    engine = create_engine(db_url)
    meta = MetaData()
    members = Table("members", meta, autoload_with=engine)
    indicators = Table("indicators", meta, autoload_with=engine)
    reports = Table("reports", meta, autoload_with=engine)
    with engine.begin() as conn:
        for n, state in ((1, "active"), (2, "suspended")):
            conn.execute(insert(members).values(
                id=f"m_old{n}", name=f"老银行{n}", kind="bank", registration_no=f"R{n}",
                contact_email=f"ops{n}@bank.example", public_key="A" * 43, key_id=f"k{n}",
                state=state, state_reason=None, created_at=now, updated_at=now,
                approved_at=now,
            ))
        indicator_id = conn.execute(insert(indicators).values(
            kind="phone", value="ab" * 32, key_epoch=1, group_id=None,
        )).inserted_primary_key[0]
        conn.execute(insert(reports).values(
            member_id="m_old1", indicator_id=indicator_id, category="impersonation",
            confidence=80, first_seen=now, last_seen=now, expires_at=now + timedelta(days=90),
            key_epoch=1, case_ref="CASE-7", state="active", batch_id=None, updated_at=now,
        ))
    engine.dispose()


def test_upgrade_from_release_0_1_0_keeps_data_and_serves(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    migrate(db_url, RELEASE_0_1_0_HEAD)
    _seed_release_0_1_0(db_url)

    upgraded = _cli(data_dir, db_url, "migrate")
    assert upgraded.returncode == 0, upgraded.stderr
    assert expected_revision() in upgraded.stdout

    engine = create_engine(db_url)
    meta = MetaData()
    members = Table("members", meta, autoload_with=engine)
    reports = Table("reports", meta, autoload_with=engine)
    with engine.connect() as conn:
        rows = conn.execute(select(members.c.id, members.c.name, members.c.state)
                            .order_by(members.c.id)).all()
        report = conn.execute(select(reports.c.member_id, reports.c.category,
                                     reports.c.confidence, reports.c.case_ref)).one()
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("m_old1", "老银行1", "active"),
                                        ("m_old2", "老银行2", "suspended")]
    assert tuple(report) == ("m_old1", "impersonation", 80, "CASE-7")
    assert revision == expected_revision()
    again = _cli(data_dir, db_url, "migrate")
    assert again.returncode == 0 and "nothing to do" in again.stdout

    listed = _cli(data_dir, db_url, "members", "list")
    assert "m_old1" in listed.stdout and "m_old2" in listed.stdout, listed.stderr

    # This data dir has no keys yet: serve starts (the schema is current) but is not ready.
    hub = HubProcess(data_dir, db_url, tmp_path / "hub.log")
    try:
        unready = requests.get(hub.url + "/readyz", timeout=10)
        assert unready.status_code == 503
        assert unready.json()["not_ready"] == ["keys"]
    finally:
        hub.kill()
    assert _cli(data_dir, db_url, "init").returncode == 0  # creates the missing keys only
    hub = HubProcess(data_dir, db_url, tmp_path / "hub.log")
    try:
        ready = requests.get(hub.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {
            "database": "ok", "schema": "ok", "keys": "ok", "feeds_dir": "ok"}, "warnings": {}}
    finally:
        hub.kill()


def _serve_refusal(data_dir: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_args(data_dir, db_url, "serve", "--port", str(free_port())),
        env=hub_env(), capture_output=True, text=True, timeout=60, check=False,
    )


def test_serve_and_init_refuse_an_older_schema(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    migrate(db_url, "0003_feeds")
    refused = _serve_refusal(data_dir, db_url)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "0003_feeds" in lines[0] and "lianfang-hub migrate" in lines[0]

    if_needed = _cli(data_dir, db_url, "init", "--if-needed")
    assert if_needed.returncode != 0 and "lianfang-hub migrate" in if_needed.stderr
    assert _revision(db_url) == "0003_feeds", "init --if-needed must not migrate"

    assert _cli(data_dir, db_url, "migrate").returncode == 0
    assert _cli(data_dir, db_url, "init", "--if-needed").returncode == 0
    done = _cli(data_dir, db_url, "init", "--if-needed")
    assert done.returncode == 0 and "nothing to do" in done.stdout, done.stdout


def test_serve_refuses_a_newer_schema(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert _cli(data_dir, db_url, "init").returncode == 0
    engine = create_engine(db_url)
    meta = MetaData()
    version = Table("alembic_version", meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(update(version).values(version_num="0099_from_the_future"))
    engine.dispose()
    refused = _serve_refusal(data_dir, db_url)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "newer" in lines[0] and "0099_from_the_future" in lines[0]
    assert _cli(data_dir, db_url, "migrate").returncode != 0


def _revision(db_url: str) -> str | None:
    from hub.db import current_revision

    return current_revision(db_url)


@pytest.mark.parametrize("schema", ["empty", "0003_feeds"])
def test_readyz_refuses_an_unmigrated_database_under_gunicorn(
    db_url: str, tmp_path: Path, schema: str
) -> None:
    """gunicorn does not go through `serve`'s check, so /readyz must say it."""
    import signal
    import sys

    from tests.helpers.processes import wait_healthy

    if schema != "empty":
        migrate(db_url, schema)
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-w", "1", "-b", f"127.0.0.1:{port}",
         "hub:create_app()"],
        env=hub_env(LIANFANG_DATABASE_URL=db_url, LIANFANG_DATA_DIR=str(tmp_path / "var"),
                    LIANFANG_SCHEDULER="false"),
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        answer = requests.get(url + "/readyz", timeout=10)
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not_ready" and "schema" in body["not_ready"]
        expected = "none" if schema == "empty" else schema
        assert body["checks"]["schema"] == f"at {expected}, expected {expected_revision()}"
        assert db_url not in answer.text and str(tmp_path) not in answer.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_version_and_init_print_the_real_url(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    version = subprocess.run([*cli_args(tmp_path, db_url), "--version"], env=hub_env(),
                             capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.strip().startswith("lianfang-hub ")
    assert version.stdout.strip() != "lianfang-hub unknown"

    given = _cli(tmp_path / "a", db_url, "init", "--host", "0.0.0.0", "--port", "9123")
    assert given.returncode == 0, given.stderr
    assert "hub URL:   http://0.0.0.0:9123  (health: http://0.0.0.0:9123/healthz" in given.stdout
    assert ":8000" not in given.stdout

    public = subprocess.run(
        cli_args(tmp_path / "b", f"sqlite:///{tmp_path / 'b.sqlite3'}", "init"),
        env=hub_env(LIANFANG_PUBLIC_URL="https://lianfang.example.org"),
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert public.returncode == 0, public.stderr
    assert "hub URL:   https://lianfang.example.org  (health:" in public.stdout
    assert "admin API: https://lianfang.example.org/v1/admin/login" in public.stdout
