"""Retention: delete what the hub no longer needs, keep the audit chain whole.

Why a purge at all: expired reports, used nonces, dead admin sessions and the
consumed feed journal grow without bound and are personal-data-adjacent (a
report ties a member to a hashed number); keeping them forever is neither
necessary nor defensible. What goes, per run:

- reports whose `expires_at` is more than `LIANFANG_RETENTION_DAYS` (default 90)
  in the past; their indicators are re-merged in the same transaction, so a
  listing never points at reports that are gone;
- complaint cases that stopped counting (retracted, expired, dismissed) whose
  `expires_at` is more than `LIANFANG_RETENTION_DAYS` in the past;
- used request nonces older than `LIANFANG_NONCE_RETENTION_S` (a replay of
  them is already refused by the clock window);
- admin session tokens that expired (or were revoked) before now;
- the `Idempotency-Key` of report batches older than `LIANFANG_IDEMPOTENCY_TTL_S`
  (default 1 day): the key is cleared, the batch row — signature, timestamp,
  nonce, body hash: the non-repudiable provenance — is kept;
- the stored signed body of a merged batch once none of its reports is left and
  the batch is older than `LIANFANG_RETENTION_DAYS`: the body exists to re-verify
  its reports (`lianfang-hub verify-provenance`), so it lives exactly as long as
  one of them does (the signature and body hash stay on the batch row);
- `FeedChange` journal rows that every feed has consumed (id at or below the
  lowest `feed_state.last_change_id`) and that are older than
  `LIANFANG_JOURNAL_RETENTION_DAYS` (default 7, kept a while for debugging);
- stale feed artifacts, through the publisher's own `collect_garbage`.

The audit log is never purged: the run appends one `retention.purge` entry
with the counts, so the chain stays verifiable and the purge itself is on
record. A DB lease (`retention`) keeps two workers from purging at once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from hub.config import HubConfig, RetentionConfig
from hub.db import get_db
from hub.feeds import journal, lock
from hub.feeds import publisher as pub
from hub.feeds.settings import ALL_FEEDS, FeedSettings
from hub.models.nonce import SeenNonce
from hub.models.report import Report, ReportBatch
from hub.models.tokens import AdminToken
from hub.services import audit, groups, merge_queue, webhooks
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute
from schemas.timefmt import utcnow

log = logging.getLogger("hub.retention")

RETENTION_LEASE = "retention"
_LEASE_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class RetentionSettings:
    """What one purge keeps: `HubConfig.retention` plus the nonce and idempotency windows."""

    report_days: int = RetentionConfig().report_days
    journal_days: int = RetentionConfig().journal_days
    interval_s: int = RetentionConfig().interval_s
    nonce_retention_s: int = HubConfig.nonce_retention_s
    idempotency_ttl_s: int = HubConfig.idempotency_ttl_s

    @classmethod
    def from_config(cls, config: HubConfig) -> RetentionSettings:
        return cls(
            report_days=config.retention.report_days,
            journal_days=config.retention.journal_days,
            interval_s=config.retention.interval_s,
            nonce_retention_s=config.nonce_retention_s,
            idempotency_ttl_s=config.idempotency_ttl_s,
        )


@dataclass
class PurgeResult:
    """Counts of what one purge removed (`busy` when another purge held the lease)."""

    busy: bool = False
    reports: int = 0
    cases: int = 0
    listings_recomputed: int = 0
    nonces: int = 0
    admin_tokens: int = 0
    idempotency_keys: int = 0
    batch_bodies: int = 0
    feed_changes: int = 0
    webhook_deliveries: int = 0
    artifacts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def total(self) -> int:
        return (
            self.reports + self.cases + self.nonces + self.admin_tokens + self.feed_changes
            + self.webhook_deliveries + self.artifacts
        )


def purge_database(
    session: Session,
    now: datetime,
    settings: RetentionSettings,
    feeds: tuple[str, ...],
    *,
    policy: MergePolicy,
) -> PurgeResult:
    """The DB half of a purge in `session`'s transaction (the caller commits); listings
    that lose expired reports are re-merged under `policy`.

    Writes the summarising audit entry last, in the same transaction, so the
    record and the deletions stand or fall together.
    """
    result = PurgeResult()
    report_cutoff = now - timedelta(days=settings.report_days)
    touched = list(
        session.scalars(
            select(Report.indicator_id).where(Report.expires_at < report_cutoff).distinct()
        )
    )
    if touched:
        result.reports = _count(
            session.execute(delete(Report).where(Report.expires_at < report_cutoff))
        )
        result.listings_recomputed = recompute(session, touched, now, policy=policy)
    # cases that stopped counting (retracted, expired, dismissed) go like reports do
    result.cases = groups.purge_closed(session, report_cutoff)
    nonce_cutoff = now - timedelta(seconds=settings.nonce_retention_s)
    result.nonces = _count(
        session.execute(delete(SeenNonce).where(SeenNonce.seen_at < nonce_cutoff))
    )
    result.admin_tokens = _count(
        session.execute(
            delete(AdminToken).where(
                or_(AdminToken.expires_at < now, AdminToken.revoked_at.is_not(None))
            )
        )
    )
    result.idempotency_keys = _count(
        session.execute(
            update(ReportBatch)
            .where(
                ReportBatch.idempotency_key.is_not(None),
                ReportBatch.created_at <= now - timedelta(seconds=settings.idempotency_ttl_s),
            )
            .values(idempotency_key=None)
            .execution_options(synchronize_session=False)
        )
    )
    has_reports = select(Report.id).where(Report.batch_id == ReportBatch.id).exists()
    result.batch_bodies = _count(
        session.execute(
            update(ReportBatch)
            .where(
                ReportBatch.body.is_not(None),
                ReportBatch.state == merge_queue.MERGED,
                ReportBatch.created_at < report_cutoff,
                ~has_reports,
            )
            .values(body=None)
            .execution_options(synchronize_session=False)
        )
    )
    watermark = journal.consumed_watermark(session, feeds)
    journal_cutoff = now - timedelta(days=settings.journal_days)
    if watermark > 0:
        result.feed_changes = _count(
            journal.delete_consumed(session, watermark, journal_cutoff)
        )
    # the webhook delivery log is kept as long as the feed journal, pending events always
    result.webhook_deliveries = webhooks.purge_finished(session, journal_cutoff)
    details = result.as_dict()
    details.pop("busy")
    details.pop("artifacts")
    details["retention_days"] = settings.report_days
    audit.record(session, "system", "retention.purge", "retention", details)
    return result


def _count(result: Any) -> int:
    return max(int(result.rowcount or 0), 0)


def purge(app: Flask, cfg: HubConfig, now: datetime | None = None) -> PurgeResult:
    """One purge run of `app`'s database and `cfg`'s feeds (the caller passes
    HubConfig of `app`) under the `retention` lease: database, then feed artifacts."""
    now = now or utcnow()
    settings = RetentionSettings.from_config(cfg)
    database = get_db(app)
    holder = lock.new_holder()
    if not lock.acquire(database.write_sessions, holder, now, _LEASE_TTL, RETENTION_LEASE):
        return PurgeResult(busy=True)
    try:
        with database.new_session(write=True) as session:
            result = purge_database(session, now, settings, ALL_FEEDS, policy=cfg.policy)
            session.commit()
    finally:
        lock.release(database.write_sessions, holder, RETENTION_LEASE)
    # Artifacts only under the builder's own lease: a build between writing new
    # artifacts and installing the manifest that names them must not race a GC.
    feed_settings = FeedSettings.from_config(cfg)
    if lock.acquire(database.write_sessions, holder, now, feed_settings.lease_ttl):
        try:
            for feed in ALL_FEEDS:
                paths = pub.feed_paths(cfg.feeds_dir, feed)
                live = pub.read_manifest(paths)
                removed = pub.collect_garbage(
                    paths, live["signed"] if live else None, now, feed_settings.retention
                )
                result.artifacts += len(removed)
        finally:
            lock.release(database.write_sessions, holder)
    log.info("retention purge: %s", result.as_dict())
    return result


__all__ = [
    "PurgeResult",
    "RetentionSettings",
    "purge",
    "purge_database",
]
