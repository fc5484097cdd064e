"""`lianfang-hub backup DEST` / `restore SRC`: a consistent copy of a running hub.

A backup directory holds:

    backup.json                 what it contains (written last: no file, no backup)
    database.sqlite3            SQLite, copied with its online backup API, or
    database.pgdump             PostgreSQL, `pg_dump -Fc` of the hub's schema, or
    database.jsonl              any database: every table read in one REPEATABLE READ
                                transaction (when `pg_dump` is missing, or `--method export`)
    keys/                       the key directory as on disk (private keys stay encrypted)
    feeds/<feed>/manifest.json  the published state: live manifest and the artifacts
    feeds/<feed>/artifacts/     that it and the database's manifest name

The build lease is held while the copy runs, so no build moves a feed between
the database copy and the feed copy. A restore goes into an empty data
directory and an empty database; the builder then sees any manifest newer
than the database's (`builder.ahead_of_database`) and continues above it, so
a restored hub never publishes a version that conflicts with one published
before (docs/OPERATIONS.md, "Backup and restore").
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from sqlalchemy import Engine, inspect, make_url, select, text

from hub.config import HubConfig
from hub.db import current_revision, get_db, is_sqlite_url, make_engine
from hub.feeds import lock
from hub.feeds import publisher as pub
from hub.feeds.settings import ALL_FEEDS, FeedSettings
from hub.models.base import Base
from schemas.atomicfile import atomic_write
from schemas.envelope import verified_signers
from schemas.keys import b64decode
from schemas.timefmt import format_time, utcnow

BACKUP_FORMAT = 1
INDEX = "backup.json"
SQLITE_FILE = "database.sqlite3"
PGDUMP_FILE = "database.pgdump"
EXPORT_FILE = "database.jsonl"
METHODS = ("auto", "sqlite", "pg_dump", "export")
LEASE_WAIT_S = 120.0


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says what to do."""


@dataclass
class BackupResult:
    """What a backup wrote (also the content of backup.json)."""

    path: Path
    method: str
    revision: str | None
    feeds: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ helpers


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (that goes in PGPASSWORD, never in argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _schema(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar())


def _empty_dir(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy files keeping their modes (keys stay 0600)."""
    for item in sorted(src.rglob("*")):
        target = dst / item.relative_to(src)
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif item.is_file() and not item.name.endswith(".lock"):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, target)


def _hold_lease(app: Flask, cfg: HubConfig) -> str:
    database = get_db(app)
    settings = FeedSettings.from_config(cfg)
    holder = lock.new_holder()
    deadline = time.monotonic() + LEASE_WAIT_S
    while not lock.acquire(database.write_sessions, holder, utcnow(), settings.lease_ttl):
        if time.monotonic() > deadline:
            raise BackupError("a feed build has held the lease for too long; try again")
        time.sleep(0.5)
    return holder


# ------------------------------------------------------------------- export


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$dt":
            return datetime.fromisoformat(raw)
        if tag == "$d":
            return date.fromisoformat(raw)
        if tag == "$b":
            return base64.b64decode(raw)
    return value


def export_database(url: str, target: Path) -> None:
    """Every hub table as JSON lines, read in one REPEATABLE READ transaction.

    One snapshot for all tables: a report committed during the export is in
    every table or in none (on SQLite, one read transaction gives the same).
    """
    engine = make_engine(url)
    try:
        options = {} if is_sqlite_url(url) else {"isolation_level": "REPEATABLE READ"}
        with engine.connect().execution_options(**options) as conn, target.open("w") as out:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            out.write(json.dumps({"revision": revision}) + "\n")
            for table in Base.metadata.sorted_tables:
                for row in conn.execute(select(table)).mappings():
                    record = {k: _encode(v) for k, v in row.items()}
                    out.write(json.dumps({"t": table.name, "r": record}) + "\n")
        os.chmod(target, 0o600)
    finally:
        engine.dispose()


def import_database(url: str, source: Path) -> None:
    """Load an export into an empty database: schema at the export's revision, rows, sequences."""
    from hub.db import migrate

    with source.open() as lines:
        revision = json.loads(next(lines))["revision"]
        migrate(url, revision)
        engine = make_engine(url)
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        try:
            with engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())  # rows the migrations seed come from the export
                batch: list[dict[str, Any]] = []
                current = None
                for line in lines:
                    item = json.loads(line)
                    if item["t"] != current and batch:
                        conn.execute(tables[current].insert(), batch)  # type: ignore[index]
                        batch = []
                    current = item["t"]
                    batch.append({k: _decode(v) for k, v in item["r"].items()})
                    if len(batch) >= 1000:
                        conn.execute(tables[current].insert(), batch)
                        batch = []
                if batch and current is not None:
                    conn.execute(tables[current].insert(), batch)
                if engine.dialect.name == "postgresql":
                    _reset_sequences(conn)
        finally:
            engine.dispose()


def _reset_sequences(conn: Any) -> None:
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto" and column.type.python_type is int
                and len(table.primary_key.columns) == 1
            ):
                seq = conn.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                ).scalar()
                if seq:
                    conn.execute(text(
                        f"SELECT setval('{seq}', COALESCE((SELECT MAX({column.name}) "  # noqa: S608
                        f"FROM {table.name}), 0) + 1, false)"
                    ))


# ------------------------------------------------------------------- backup


def backup(app: Flask, cfg: HubConfig, dest: Path, method: str = "auto") -> BackupResult:
    """Copy the database, the keys and the published feeds of a running hub into `dest`."""
    if not _empty_dir(dest):
        raise BackupError(f"{dest} is not empty; give a new directory")
    url = cfg.database_url
    if method == "auto":
        method = "sqlite" if is_sqlite_url(url) else (
            "pg_dump" if shutil.which("pg_dump") else "export"
        )
    if method == "sqlite" and not is_sqlite_url(url):
        raise BackupError("--method sqlite needs a SQLite database")
    if method == "pg_dump" and is_sqlite_url(url):
        raise BackupError("--method pg_dump needs a PostgreSQL database")
    if method == "pg_dump" and not shutil.which("pg_dump"):
        raise BackupError("pg_dump is not installed; use --method export")
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o700)
    holder = _hold_lease(app, cfg)
    try:
        revision = current_revision(url)
        if method == "sqlite":
            _sqlite_copy(Path(make_url(url).database or ""), dest / SQLITE_FILE)
        elif method == "pg_dump":
            _pg_dump(url, dest / PGDUMP_FILE)
        else:
            export_database(url, dest / EXPORT_FILE)
        _copy_tree(cfg.keys_dir, dest / "keys")
        feeds = _copy_feeds(app, cfg.feeds_dir, dest / "feeds")
    finally:
        lock.release(get_db(app).write_sessions, holder)
    result = BackupResult(path=dest, method=method, revision=revision, feeds=feeds)
    index = {
        "format": BACKUP_FORMAT, "created_at": format_time(utcnow()), "method": method,
        "revision": revision, "feeds": feeds,
    }
    atomic_write(dest / INDEX, json.dumps(index, indent=2).encode(), 0o600)
    return result


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while writers keep going."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.chmod(target, 0o600)


def _pg_dump(url: str, target: Path) -> None:
    engine = make_engine(url)
    try:
        schema = _schema(engine)
    finally:
        engine.dispose()
    uri, env = _libpq(url)
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
         f"--schema={schema}", f"--file={target}", uri],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {(done.stderr.strip().splitlines() or [''])[-1]}")
    os.chmod(target, 0o600)


def _copy_feeds(app: Flask, feeds_dir: Path, target: Path) -> dict[str, int]:
    """Each feed's live manifest (and the database's) with the artifacts they name."""
    from hub.models.feed import FeedState

    with get_db(app).new_session(write=False) as session:
        in_db = {
            feed: json.loads(manifest)
            for feed, manifest in session.execute(
                select(FeedState.feed, FeedState.manifest).where(FeedState.manifest.is_not(None))
            )
        }
    versions: dict[str, int] = {}
    for feed in ALL_FEEDS:
        paths = pub.feed_paths(feeds_dir, feed)
        out = pub.FeedPaths(target / feed)
        envelopes = [e for e in (pub.newest_published(paths), in_db.get(feed)) if e]
        if not envelopes:
            continue
        out.ensure()
        for envelope in envelopes:
            for name in sorted(pub.referenced(envelope["signed"])):
                if (paths.artifacts / name).is_file() and not (out.artifacts / name).exists():
                    shutil.copy2(paths.artifacts / name, out.artifacts / name)
        live = pub.read_manifest(paths)
        if live is not None:
            atomic_write(out.manifest, pub.manifest_bytes(live))
        newest = pub.newest_published(paths)
        if newest is not None and newest != live:
            pub.record_floor(out, newest)
        versions[feed] = max(int(e["signed"]["version"]) for e in envelopes)
    return versions


# ------------------------------------------------------------------ restore


def read_index(source: Path) -> dict[str, Any]:
    try:
        index = json.loads((source / INDEX).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} has no {INDEX}: not a complete backup") from None
    if index.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{source} is backup format {index.get('format')}, not {BACKUP_FORMAT}")
    return index


def _database_is_empty(url: str) -> bool:
    if is_sqlite_url(url):
        path = Path(make_url(url).database or "")
        return not path.exists() or path.stat().st_size == 0
    engine = make_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


def restore(cfg: HubConfig, source: Path, published_from: Sequence[str] = (),
            token: str | None = None) -> dict[str, Any]:
    """Bring a backup back into an empty data directory and database.

    `published_from` are places that hold the newest published manifests when
    the feed directory was lost with the rest (a CDN export directory, or the
    base URL of a mirror serving `/v1/feeds/<feed>/manifest.json`): the next
    build continues above them.
    """
    index = read_index(source)
    url = cfg.database_url
    for folder in (cfg.keys_dir, cfg.feeds_dir):
        if not _empty_dir(folder):
            raise BackupError(f"{folder} is not empty; restore into an empty data directory")
    if not _database_is_empty(url):
        raise BackupError("the database is not empty; restore into an empty database")
    method = index["method"]
    if method == "sqlite":
        if not is_sqlite_url(url):
            raise BackupError("this backup is a SQLite database; give a sqlite:/// URL")
        target = Path(make_url(url).database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source / SQLITE_FILE, target)
    elif method == "pg_dump":
        if is_sqlite_url(url):
            raise BackupError("this backup is a pg_dump; give a PostgreSQL URL (or use export)")
        _pg_restore(url, source / PGDUMP_FILE)
    else:
        import_database(url, source / EXPORT_FILE)
    _clear_leases(url)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    _copy_tree(source / "keys", cfg.keys_dir)
    if (source / "feeds").is_dir():
        _copy_tree(source / "feeds", cfg.feeds_dir)
    floors = record_published(cfg, published_from, token) if published_from else {}
    return {"restored": str(source), "method": method, "revision": index["revision"],
            "feeds": index["feeds"], "published_floors": floors}


def _clear_leases(url: str) -> None:
    """The copy holds the lease the backup took (and any build then running): drop them."""
    from hub.models.feed import BuildLease

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(BuildLease.__table__.delete())
    finally:
        engine.dispose()


def _pg_restore(url: str, dump: Path) -> None:
    """pg_restore into the schema the dump came from (it must exist, empty)."""
    uri, env = _libpq(url)
    listing = subprocess.run(  # noqa: S603 - fixed argv
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    entries = [line for line in listing.splitlines() if " SCHEMA " not in line]
    list_file = dump.with_name(".restore-list")
    try:
        list_file.write_text("\n".join(entries) + "\n")
    except OSError:  # a read-only backup medium
        list_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"lianfang-restore-{os.getpid()}"  # noqa: S108
        list_file.write_text("\n".join(entries) + "\n")
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
             "--single-transaction", f"--use-list={list_file}", f"--dbname={uri}", str(dump)],
            env=env, capture_output=True, text=True, check=False,
        )
    finally:
        list_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {(done.stderr.strip().splitlines() or [''])[-1]}")


def _fetch_manifests(place: str, token: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for feed in ALL_FEEDS:
        if place.startswith(("http://", "https://")):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = requests.get(
                f"{place.rstrip('/')}/feeds/{feed}/manifest.json", headers=headers, timeout=30
            )
            if answer.status_code == 404:
                continue
            if answer.status_code != 200:
                raise BackupError(f"{place}: manifest of {feed} answered HTTP {answer.status_code}")
            yield feed, answer.json()
        else:
            envelope = pub.read_envelope(Path(place) / "feeds" / feed / pub.MANIFEST_NAME)
            if envelope is not None:
                yield feed, envelope


def _feed_public_keys(cfg: HubConfig) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hub.feeds.keystore import META_FILE

    meta = json.loads((cfg.keys_dir / META_FILE).read_text())
    return {
        entry["keyid"]: Ed25519PublicKey.from_public_bytes(b64decode(entry["public_key"]))
        for entry in meta["feed_keys"]
    }


def record_published(cfg: HubConfig, places: Sequence[str], token: str | None) -> dict[str, int]:
    """Remember the newest manifest each place shows, when signed by one of our feed keys."""
    trusted = _feed_public_keys(cfg)
    floors: dict[str, int] = {}
    for place in places:
        for feed, envelope in _fetch_manifests(place, token):
            if not verified_signers(envelope, trusted) or envelope["signed"].get("feed") != feed:
                raise BackupError(f"{place}: the manifest of {feed} is not signed by this hub")
            paths = pub.feed_paths(cfg.feeds_dir, feed)
            known = pub.newest_published(paths)
            signed = envelope["signed"]
            if known is None or (int(signed["version"]), signed["issued_at"]) > (
                int(known["signed"]["version"]), known["signed"]["issued_at"]
            ):
                pub.record_floor(paths, envelope)
                floors[feed] = int(signed["version"])
    return floors
