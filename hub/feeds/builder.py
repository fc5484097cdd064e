"""Build feeds from the journal: DB changes → publisher → DB state → live manifest.

A build costs O(changes) DB work: it reads only the `FeedChange` rows after the
feed's `last_change_id` and takes the current set from the publisher's private
state file, never from the listing table.

Crash safety comes from the order of the three durable steps:

1. artifacts and the per-version state file are written (invisible to readers);
2. the DB commit moves `feed_state` (version, manifest, last_change_id) and adds
   the history row — one transaction for every feed of the build;
3. the manifest files are swapped.

A crash before 2 leaves orphan artifacts (removed by retention) and the next
build redoes the version; a crash between 2 and 3 leaves the previous manifest
live and valid, and `sync_manifests` (run by every build and at app start)
rewrites it from the DB.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.db import Database, get_db
from hub.feeds import journal, lock
from hub.feeds import publisher as pub
from hub.feeds.entries import RECORDS, kind_of
from hub.feeds.journal import FeedOp
from hub.feeds.keystore import Keystore
from hub.feeds.settings import ALL_FEEDS, FeedSettings
from hub.models.case import ComplaintGroup
from hub.models.feed import FeedState, FeedVersion
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.services import merge_queue
from hub.services.consortium_keys import active_keys, config_wrapping_key
from hub.services.groups import expire_due, group_record
from hub.services.key_rotation import retire_due
from hub.services.remerge import remerge_due
from schemas.enums import Feed, IndicatorKind
from schemas.manifest import chain_digest, phone_key
from schemas.timefmt import utcnow

log = logging.getLogger("hub.feeds")

@dataclass
class BuildResult:
    """What one build did: `published` feed → new version, `refreshed` feeds, `refused`
    feed → the entries its refused version would have had (ceiling), or `busy`."""

    busy: bool = False
    published: dict[str, int] = field(default_factory=dict)
    refreshed: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"busy": self.busy, "published": self.published, "refreshed": self.refreshed,
                "refused": self.refused}


def keystore_for(app: Flask) -> Keystore:
    from hub import get_config

    cfg = get_config(app)
    return Keystore(
        cfg.keys_dir, cfg.key_passphrase,
        min_poll_interval_s=cfg.min_poll_interval_s,
        root_lifetime=timedelta(seconds=cfg.feeds.root_lifetime_s),
    )


def signers(envelope: Mapping[str, Any]) -> list[str]:
    return [s["keyid"] for s in envelope.get("signatures", [])]


# ------------------------------------------------------------------ journal


def _contains(sorted_keys: np.ndarray, probe: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0 or probe.size == 0:
        return np.zeros(probe.size, dtype=bool)
    pos = np.searchsorted(sorted_keys, probe)
    return sorted_keys[np.minimum(pos, sorted_keys.size - 1)] == probe


def net_key_change(base: np.ndarray, final: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Net adds/removes of phone keys against `base` (sorted uint64)."""
    wanted = {phone_key(v) for v, op in final.items() if op == FeedOp.ADD}
    dropped = {phone_key(v) for v, op in final.items() if op == FeedOp.REMOVE} - wanted
    adds = np.array(sorted(wanted), dtype=np.uint64)
    removes = np.array(sorted(dropped), dtype=np.uint64)
    return adds[~_contains(base, adds)], removes[_contains(base, removes)]


def net_record_change(
    session: Session, base: list[dict[str, Any]], final: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Net complaint-group change: a changed group is a remove plus an add."""
    if not final:
        return [], []
    current = {r["group_id"]: r for r in base}
    adds: list[dict[str, Any]] = []
    removes: list[str] = []
    for gid in sorted(final):
        record = group_record(session, gid) if final[gid] == FeedOp.UPSERT else None
        old = current.get(gid)
        if record is not None and record == old:
            continue
        if old is not None:
            removes.append(gid)
        if record is not None:
            adds.append(record)
    return adds, removes


def key_epochs(session: Session, wrap: bytes) -> list[dict[str, Any]]:
    """Epochs phone feeds carry keys for, with the SHA-256 of each consortium key."""
    return [
        {"epoch": epoch, "key_sha256": hashlib.sha256(key).hexdigest()}
        for epoch, key in sorted(active_keys(session, wrap).items())
    ]


def delta_floor(
    session: Session, feed: str, version: int, now: datetime, settings: FeedSettings
) -> int:
    """The oldest version whose screeners still sync by deltas when `version` is published.

    Two windows, whichever reaches further back: the last `delta_window_versions`
    versions, and every version that was live during the last `delta_window`
    (the newest one published at or before its start was live then too).
    """
    by_count = version - settings.delta_window_versions
    live_at_start = session.scalar(
        select(func.max(FeedVersion.version)).where(
            FeedVersion.feed == feed, FeedVersion.published_at <= now - settings.delta_window
        )
    )
    by_time = int(live_at_start) if live_at_start is not None else 1
    return max(1, min(by_count, by_time))


# -------------------------------------------------------------------- build


def _state_row(session: Session, feed: str, now: datetime) -> FeedState:
    row = session.get(FeedState, feed)
    if row is None:
        row = FeedState(feed=feed, version=0, last_change_id=0, entry_count=0, updated_at=now)
        session.add(row)
        session.flush()
    return row


def _claim(session: Session, row: FeedState, expected: int, **values: Any) -> None:
    """Move the feed's pointer only if nobody else did since we read it."""
    result = session.execute(
        update(FeedState)
        .where(FeedState.feed == row.feed, FeedState.version == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise RuntimeError(f"feed {row.feed} moved during the build; aborting")


def build_feeds(
    app: Flask, now: datetime | None = None, feeds: Iterable[str] = ALL_FEEDS
) -> BuildResult:
    """Run one build under the lease; returns what changed (or `busy`)."""
    from hub import get_config

    now = now or utcnow()
    cfg = get_config(app)
    settings = FeedSettings.from_config(cfg)
    database = get_db(app)
    holder = lock.new_holder()
    if not lock.acquire(database.write_sessions, holder, now, settings.lease_ttl):
        return BuildResult(busy=True)
    try:
        with app.app_context():
            sync_manifests(app)
            return _build_locked(app, database, cfg, settings, now, list(feeds))
    finally:
        lock.release(database.write_sessions, holder)


def _build_locked(
    app: Flask, database: Database, cfg: HubConfig, settings: FeedSettings, now: datetime,
    feeds: list[str],
) -> BuildResult:
    # Everything acknowledged before this build started is merged first, so "build
    # now" reflects every accepted report (consumers running meanwhile share the work).
    with database.new_session(write=False) as session:
        queued_upto = merge_queue.head(session)
    if queued_upto:
        merge_queue.drain(
            database, policy=cfg.policy, upto=queued_upto, limit=cfg.merge_pass_size
        )
    with database.new_session(write=True) as session:
        # a retiring epoch past `retires_at` leaves the feeds
        retire_due(
            session, now, retire_after_s=cfg.consortium_retire_after_s, policy=cfg.policy
        )
        remerge_due(session, now, policy=cfg.policy)
        # cases past their expiry stop counting; their groups are re-derived
        expire_due(session, now, max_joins=cfg.case_max_group_joins)
        session.commit()
    upto = journal.committed_watermark(database)
    keystore = keystore_for(app)
    current_kid = keystore.current_feed_keyid()
    result = BuildResult()
    installs: list[tuple[pub.FeedPaths, dict[str, Any]]] = []
    with database.new_session(write=True) as session:
        epochs = key_epochs(session, config_wrapping_key(cfg))
        for feed in feeds:
            paths = pub.feed_paths(cfg.feeds_dir, feed)
            row = _state_row(session, feed, now)
            envelope = json.loads(row.manifest) if row.manifest else None
            previous = envelope["signed"] if envelope else None
            kind = kind_of(feed)
            published = pub.newest_published(paths)
            snapshot_every = settings.snapshot_every
            if ahead_of_database(published, previous):
                # A restored (older) database next to newer published feeds: continue
                # above the newest version ever published, chained to it, with the
                # set re-derived from the database (docs/OPERATIONS.md, "Restore").
                assert published is not None
                envelope, previous = published, published["signed"]
                base, adds, removes = derive_entries(session, feed), kind.empty(), kind.empty()
                snapshot_every = 1  # the artifacts of the adopted version may be gone
                log.warning("feed %s: the database is behind published v%s; re-deriving",
                            feed, previous["version"])
                changed = True
            else:
                base = pub.load_entries(paths, feed, previous)
                final = journal.final_ops(session, feed, row.last_change_id, upto)
                if kind is RECORDS:
                    adds, removes = net_record_change(session, base, final)
                else:
                    adds, removes = net_key_change(base, final)
                changed = not kind.is_empty_change(adds, removes) or previous is None
            feed_epochs = [] if kind is RECORDS else epochs
            if not changed and previous is not None and previous.get("key_epochs") != feed_epochs:
                changed = True  # a new or retired consortium epoch is content too
            size = kind.count(base) - len(removes) + len(adds)
            if changed and size > cfg.feeds.max_entries:
                _refuse(session, row, size, now)
                result.refused[feed] = size
                if previous is not None and envelope is not None and pub.refresh_due(
                    previous, now, current_kid, signers(envelope)
                ):
                    envelope = pub.refresh(previous, sign=keystore.sign_manifest, now=now,
                                           lifetime=settings.manifest_lifetime)
                    _claim(session, row, row.version, manifest=json.dumps(envelope),
                           updated_at=now)
                    installs.append((paths, envelope))
                    result.refreshed.append(feed)
                continue
            if changed:
                prepared = pub.prepare_publish(
                    paths, feed, previous, base, adds, removes,
                    sign=keystore.sign_manifest, now=now, key_epochs=feed_epochs,
                    lifetime=settings.manifest_lifetime, snapshot_every=snapshot_every,
                    delta_floor=delta_floor(session, feed, row.version + 1, now, settings),
                )
                _claim(session, row, row.version, version=prepared.version,
                       last_change_id=max(upto, row.last_change_id),
                       entry_count=prepared.entry_count, refused_entries=None, refused_at=None,
                       manifest=json.dumps(prepared.envelope), updated_at=now)
                session.add(FeedVersion(feed=feed, version=prepared.version, published_at=now,
                                        entry_count=prepared.entry_count,
                                        bytes=prepared.artifact_bytes))
                installs.append((paths, prepared.envelope))
                result.published[feed] = prepared.version
            else:
                values: dict[str, Any] = {
                    "last_change_id": max(upto, row.last_change_id),
                    "refused_entries": None, "refused_at": None,  # back below the ceiling
                }
                assert envelope is not None and previous is not None
                if pub.refresh_due(previous, now, current_kid, signers(envelope)):
                    envelope = pub.refresh(previous, sign=keystore.sign_manifest, now=now,
                                           lifetime=settings.manifest_lifetime)
                    values.update(manifest=json.dumps(envelope), updated_at=now)
                    installs.append((paths, envelope))
                    result.refreshed.append(feed)
                _claim(session, row, row.version, **values)
        session.commit()
    for paths, env in installs:
        pub.install_manifest(paths, env)
    for feed in feeds:
        paths = pub.feed_paths(cfg.feeds_dir, feed)
        live = pub.read_manifest(paths)
        pub.collect_garbage(paths, live["signed"] if live else None, now, settings.retention)
    if result.published or result.refreshed:
        log.info("feeds built: published=%s refreshed=%s", result.published, result.refreshed)
    return result


def _refuse(session: Session, row: FeedState, size: int, now: datetime) -> None:
    """Hold a feed at its version: the next one would have `size` entries, above
    `LIANFANG_FEED_MAX_ENTRIES` (issue 13, item 5).

    Refusing the whole version rather than publishing "the best N" keeps every
    published version a function of the listings (no silent partial feed), and
    leaves `last_change_id` where it was, so once admins act (revoke the flooder,
    raise the ceiling) the next build publishes every pending change at once.
    Screeners keep the last version, whose manifest is still refreshed. Admins see
    it on the console dashboard, in `/metrics` (`lianfang_feed_held`) and this log.
    """
    log.error(
        "feed %s held at version %d: the next version would have %d entries, above "
        "LIANFANG_FEED_MAX_ENTRIES", row.feed, row.version, size,
    )
    values: dict[str, Any] = {"refused_entries": size}
    if row.refused_at is None:
        values["refused_at"] = now
    _claim(session, row, row.version, **values)
    session.refresh(row)


def ahead_of_database(
    published: Mapping[str, Any] | None, previous: Mapping[str, Any] | None
) -> bool:
    """Whether the feed directory has published what the database does not know.

    True when the newest published manifest is a later version than the
    database's, or the same version with other content (two different v3s).
    """
    if published is None:
        return False
    signed = published["signed"]
    if previous is None:
        return True
    if int(signed["version"]) != int(previous["version"]):
        return int(signed["version"]) > int(previous["version"])
    return chain_digest(signed) != chain_digest(previous)


def derive_entries(session: Session, feed: str) -> Any:
    """The whole set of `feed` computed from the listings and groups (not the journal).

    Used after a restore, when the journal and the published files disagree:
    the same rules the re-merge journals by (`journal.phone_feed`, `group_record`).
    """
    kind = kind_of(feed)
    if kind is RECORDS:
        labels = session.scalars(select(ComplaintGroup.label).order_by(ComplaintGroup.label))
        records = [r for r in (group_record(session, label) for label in labels) if r]
        return kind.apply(kind.empty(), records, [])
    rows = session.execute(
        select(Indicator.value, Listing.tier, Listing.allowlisted, Listing.held)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Indicator.kind == IndicatorKind.PHONE.value, Indicator.feed_key.is_not(None))
    )
    keys = sorted({
        phone_key(value) for value, tier, allowed, held in rows
        if journal.phone_feed(IndicatorKind.PHONE.value, tier, allowed, held) == Feed(feed)
    })
    return kind.apply(kind.empty(), np.array(keys, dtype=np.uint64), kind.empty())


def sync_manifests(app: Flask) -> list[str]:
    """Rewrite any manifest file that is behind the DB (a crash after commit)."""
    from hub import get_config

    cfg = get_config(app)
    fixed = []
    with get_db(app).new_session(write=False) as session:
        rows = session.execute(
            select(FeedState.feed, FeedState.manifest).where(FeedState.manifest.is_not(None))
        ).all()
    for feed, manifest in rows:
        paths = pub.feed_paths(cfg.feeds_dir, feed)
        envelope = json.loads(manifest)
        live = pub.read_manifest(paths)
        behind = live != envelope  # signatures too: a key rotation re-signs the same content
        if behind and pub.install_manifest(paths, envelope):
            fixed.append(feed)
    return fixed


def feed_summaries(session: Session) -> list[dict[str, Any]]:
    """Version and size per published feed (for `GET /v1/feeds`)."""
    rows = session.execute(
        select(FeedState.feed, FeedState.version, FeedState.entry_count, FeedState.updated_at)
        .where(FeedState.version > 0)
        .order_by(FeedState.feed)
    ).all()
    return [
        {"feed": f, "version": v, "entry_count": int(c), "updated_at": u} for f, v, c, u in rows
    ]


def history(session: Session, feed: str, limit: int = 50) -> list[FeedVersion]:
    return list(session.scalars(
        select(FeedVersion).where(FeedVersion.feed == feed)
        .order_by(FeedVersion.version.desc()).limit(limit)
    ))


__all__ = ["BuildResult", "FeedSettings", "build_feeds", "sync_manifests"]
