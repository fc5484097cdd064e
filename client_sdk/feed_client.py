"""FeedClient: keeps verified copies of the hub's signed feeds on local disk.

It wires the pure trust core (`client_sdk.trust`) between the network
(`client_sdk.fetcher`) and the disk (`client_sdk.store`). One sync, per feed:

1. roots.json walked to the newest unexpired root, then keys.json verified
   against it; 2. the manifest, conditionally by ETag, verified: signature by
   a current feed key, feed name, rollback/replay, freeze, hash chain;
3. the consortium keys the manifest announces; 4. a plan (deltas, or snapshot
   plus deltas) size-checked before any download; 5. each artifact's size and
   SHA-256; 6. the rebuilt set against `set_digest`; 7. an atomic commit to disk;
   8. after all feeds, one new immutable `Publication` (client_sdk.publication)
   swapped in for readers when anything changed.

Any failure leaves the last good data in place and is recorded; a failed delta
path is retried once from the snapshot. Readers (`publication`, `view`,
`hash_keys`) never wait for a sync: they read one reference to an immutable object.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests
from apscheduler.schedulers.background import BackgroundScheduler
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from client_sdk.errors import (
    AuditCheckpointError,
    ConsortiumKeyError,
    DocumentTooLargeError,
    FetchError,
    StoreError,
    SyncError,
)
from client_sdk.fetcher import Fetcher
from client_sdk.keyset import KeySet
from client_sdk.oprf import ObliviousHasher
from client_sdk.publication import NEVER_FRESH, FeedView, Publication
from client_sdk.store import FeedStore, StoredFeed, TrustStore
from client_sdk.trust import (
    MAX_DOCUMENT_BYTES,
    AuditCheckpoint,
    TrustedKeyset,
    TrustedRoot,
    apply_key_artifacts,
    apply_record_artifacts,
    check_artifact,
    check_consortium_keys,
    check_root_fresh,
    compare_audit_checkpoint,
    load_root_key,
    manifest_epochs,
    plan_update,
    update_root,
    verify_audit_checkpoint,
    verify_audit_segment,
    verify_keyset,
    verify_manifest,
)
from schemas.enums import PHONE_FEEDS, Feed
from schemas.envelope import public_key_raw
from schemas.keys import b64decode, b64encode
from schemas.timefmt import parse_time, utcnow

logger = logging.getLogger("client_sdk.sync")

DEFAULT_FEEDS = ("phone-block", "phone-warn", "phone-allow")
RECORD_FEEDS = frozenset({Feed.COMPLAINT_GROUPS.value})
PHONE_FEED_NAMES = frozenset(f.value for f in PHONE_FEEDS)
DEFAULT_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024
DEFAULT_STALE_AFTER_S = 24 * 3600
DEFAULT_MAX_BACKOFF_S = 3600
_JOB_ID = "lianfang-feed-sync"
AUDIT_PROOF_PAGE = 1000
_EMPTY_KEYS = KeySet.of(np.empty(0, dtype=np.uint64))


@dataclass(frozen=True)
class SyncResult:
    """What one sync did for one feed; `error_code` is the refusing check's code."""

    feed: str
    ok: bool
    version: int | None
    changed: bool
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FeedStatus:
    """Health of one feed for monitoring."""

    feed: str
    version: int | None
    last_success: datetime | None
    last_error: str | None
    last_error_code: str | None
    stale: bool


@dataclass(frozen=True)
class AuditStatus:
    """The last audit-checkpoint check: the signed head seen, or why it was refused.

    `error_code` is `audit_rewrite` when the hub's chain contradicts a checkpoint
    kept in the state directory (`client_sdk.errors.AuditRewriteError`).
    """

    ok: bool
    seq: int | None
    rows_checked: int = 0
    error_code: str | None = None
    error: str | None = None


def next_delay(
    interval_s: float,
    min_poll_interval_s: float,
    failures: int,
    jitter_s: float,
    rand: float,
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
) -> float:
    """Seconds until the next sync: never below the hub's minimum, doubled per failure.

    `rand` in [0, 1) spreads a fleet of screeners over `jitter_s`.
    """
    base = max(interval_s, min_poll_interval_s)
    if failures > 0:
        base = max(min(base * 2 ** min(failures, 32), max_backoff_s), base)
    return base + rand * jitter_s


_DOCUMENT_LIMIT: dict[str, Any] = {"max_bytes": MAX_DOCUMENT_BYTES,
                                   "too_large": DocumentTooLargeError}
"""roots.json, keys.json, manifests and the consortium-key answer stop downloading at
the trust core's parse limit (not the fetcher's 16 MiB default), with its error code."""


class FeedClient:
    """Verified, scheduled sync of the hub's feeds into `state_dir` (docs/ARCHITECTURE.md §6)."""

    def __init__(
        self,
        hub_url: str,
        root_public_key: str | Ed25519PublicKey,
        state_dir: str | Path,
        token: str | None = None,
        feeds: Iterable[str] = DEFAULT_FEEDS,
        *,
        member_id: str | None = None,
        private_key: Ed25519PrivateKey | None = None,
        clock_skew_s: int = 300,
        max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES,
        timeout_s: float = 10,
        stale_after_s: int = DEFAULT_STALE_AFTER_S,
        max_backoff_s: int = DEFAULT_MAX_BACKOFF_S,
        session: requests.Session | None = None,
        check_audit: bool = True,
        hashing: str = "hmac",
    ) -> None:
        if hashing not in ("hmac", "oprf"):
            raise ValueError("hashing is 'hmac' (local consortium key) or 'oprf' (hub-evaluated)")
        self.hashing = hashing
        self.oblivious: ObliviousHasher | None = None
        """OPRF mode (issue 20): the device never fetches or stores a consortium key;
        each number is evaluated blinded by the hub (cached per number for the epoch)."""
        if hashing == "oprf":
            if token is None and member_id is None:
                raise ValueError("OPRF mode needs a reader token or a member key")
            self.oblivious = ObliviousHasher(
                hub_url, token=token, member_id=None if token else member_id,
                private_key=None if token else private_key, timeout_s=min(timeout_s, 5))
        self.feeds = tuple(str(f) for f in feeds)
        unknown = [f for f in self.feeds if f not in {x.value for x in Feed}]
        if unknown:
            raise ValueError(f"unknown feeds: {unknown}")
        self.clock_skew_s = clock_skew_s
        self.max_artifact_bytes = max_artifact_bytes
        self.stale_after_s = stale_after_s
        self.max_backoff_s = max_backoff_s
        self.state_dir = Path(state_dir)
        self._fetcher = Fetcher(hub_url, token=token, member_id=member_id,
                                private_key=private_key, timeout_s=timeout_s, session=session)
        self._pinned = load_root_key(root_public_key)
        self._trust_store = TrustStore(self.state_dir)
        self._root = self._load_root()
        self._keyset = self._load_keyset()
        self._consortium: dict[int, bytes] = self._trust_store.load_consortium()
        self._stores = {f: FeedStore(self.state_dir, f, records=f in RECORD_FEEDS)
                        for f in self.feeds}
        self._stored: dict[str, StoredFeed | None] = {f: s.load() for f, s in self._stores.items()}
        self._last_success: dict[str, datetime | None] = {
            f: (s.synced_at if s is not None and s.data is not None else None)
            for f, s in self._stored.items()
        }
        self._last_error: dict[str, tuple[str, str] | None] = dict.fromkeys(self.feeds)
        self._documents: dict[str, tuple[str, bytes]] = {}
        self.document_statuses: dict[str, int] = {}
        """HTTP status of the last keys.json/roots.json fetch (200 or 304), by path."""
        self._sync_lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._failures = 0
        self._interval_s = 300.0
        self._jitter_s = 30.0
        self._epochs: dict[str, frozenset[int]] = {}
        self.check_audit = check_audit
        self.audit_status: AuditStatus | None = None
        """The last audit checkpoint check of `sync()` or `verify_audit()` (None before one)."""
        self.publication: Publication = self._build_publication(
            self.feeds, self._last_success, None)
        """The verified state readers answer from; replaced as a whole (one assignment)
        after a sync that changed a view, the hashing keys or freshness, never mutated."""

    # ------------------------------------------------------------ trust state
    def _load_root(self) -> TrustedRoot:
        """The root reached last time, with the expiry learned for it (kept on disk so a
        restarted screener cannot be served documents that leave the expiry out)."""
        doc = self._trust_store.load_root(self._pinned.keyid)
        if doc is None:
            return self._pinned
        try:
            root = load_root_key(doc["public_key"])
            expires = doc.get("expires_at")
            stored = TrustedRoot(int(doc["version"]), root.keyid, root.public_key,
                                 parse_time(expires) if expires else None)
        except (SyncError, KeyError, TypeError, ValueError):
            return self._pinned
        if stored.version < self._pinned.version:
            return self._pinned
        if stored.keyid == self._pinned.keyid:
            return stored.expiring_by(self._pinned.expires_at)
        return stored

    def _load_keyset(self) -> TrustedKeyset | None:
        """The stored keyset, kept even when expired: it is the rollback floor."""
        data = self._trust_store.load_keyset()
        if data is None:
            return None
        try:
            return verify_keyset(self._root, data, utcnow(), None, self.clock_skew_s,
                                 allow_expired=True)
        except SyncError:
            return None

    def _signed_document(self, path: str) -> bytes:
        """keys.json or roots.json, conditionally by ETag: a 304 hands back the bytes
        of the last 200, which the caller still verifies in full (expiry included),
        so the cache saves bandwidth, never a check."""
        cached = self._documents.get(path)
        answer = self._fetcher.get(path, auth=False, etag=cached[0] if cached else None,
                                   **_DOCUMENT_LIMIT)
        self.document_statuses[path] = answer.status
        if answer.status == 304 and cached is not None:
            return cached[1]
        body = answer.body or b""
        if answer.etag:
            self._documents[path] = (answer.etag, body)
        return body

    def _refresh_trust(self, now: datetime) -> TrustedKeyset:
        """TUF order: roots.json first (walked to the newest root, which must not be
        expired), then keys.json against that root -- so after a rotation nothing
        signed only by the old root is trusted, whoever serves it."""
        roots = self._signed_document("/v1/roots.json")
        new_root = update_root(self._root, roots)
        check_root_fresh(new_root, now, self.clock_skew_s)
        data = self._signed_document("/v1/keys.json")
        keyset = verify_keyset(new_root, data, now, self._keyset, self.clock_skew_s)
        new_root = new_root.expiring_by(keyset.root_expires_at)
        check_root_fresh(new_root, now, self.clock_skew_s)
        if (new_root.version, new_root.expires_at) != (self._root.version, self._root.expires_at):
            self._trust_store.save_root(self._pinned.keyid, new_root.version,
                                        b64encode(public_key_raw(new_root.public_key)),
                                        new_root.expires_at)
            if new_root.version != self._root.version:
                logger.info("root rotated to version %d", new_root.version)
        self._root = new_root
        try:
            if data != self._trust_store.load_keyset():
                self._trust_store.save_keyset(data)
        except OSError as exc:
            raise StoreError(f"cannot write the trusted keyset: {exc.strerror}") from exc
        self._keyset = keyset
        return keyset

    def import_consortium_keys(self, bundle: bytes) -> list[int]:
        """Store consortium keys from a member's bundle (`MemberClient.consortium_key_bundle`).

        For a screener syncing from a static mirror or CDN, where
        `/v1/consortium-key` does not exist: keys already held are kept, the
        bundle's are added; each is still checked against the `key_sha256`
        that signed manifests announce before it is used. Returns the epochs.
        """
        fetched = _parse_consortium(bundle)
        merged = {**self._consortium, **fetched}
        try:
            self._trust_store.save_consortium(merged)
        except OSError as exc:
            raise StoreError(f"cannot write the consortium keys: {exc.strerror}") from exc
        self._consortium = merged
        return sorted(fetched)

    def _ensure_consortium_keys(self, manifest: Mapping[str, Any]) -> None:
        epochs = manifest_epochs(manifest)
        if not epochs or self.hashing == "oprf":
            return
        try:
            check_consortium_keys(manifest, self._consortium)
            return
        except ConsortiumKeyError:
            pass
        fetched = _parse_consortium(
            self._fetcher.get("/v1/consortium-key", **_DOCUMENT_LIMIT).body or b"")
        merged = {**self._consortium, **fetched}
        check_consortium_keys(manifest, merged)
        try:
            self._trust_store.save_consortium(merged)
        except OSError as exc:
            raise StoreError(f"cannot write the consortium keys: {exc.strerror}") from exc
        self._consortium = merged

    # ------------------------------------------------------------------ sync
    def sync(self) -> dict[str, SyncResult]:
        """One verified sync of every feed; never raises for a refused or failed feed."""
        with self._sync_lock:
            now = utcnow()
            try:
                keyset = self._refresh_trust(now)
            except SyncError as exc:
                return {f: self._failed(f, exc) for f in self.feeds}
            except OSError as exc:
                error = StoreError(f"cannot write the trust state: {exc.strerror}")
                return {f: self._failed(f, error) for f in self.feeds}
            except Exception as exc:  # last resort: hostile input must never escape sync()
                error = _internal(exc, "trust refresh")
                return {f: self._failed(f, error) for f in self.feeds}
            results = {}
            for feed in self.feeds:
                try:
                    changed = self._sync_feed(feed, keyset, now)
                except SyncError as exc:
                    results[feed] = self._failed(feed, exc)
                    continue
                except Exception as exc:  # last resort, as above; last good data stays
                    results[feed] = self._failed(feed, _internal(exc, f"feed {feed}"))
                    continue
                stored = self._stored[feed]
                results[feed] = SyncResult(feed, True, stored.version if stored else None, changed)
            if self.check_audit:
                self.audit_status = self._audit_step(keyset, now)
            succeeded = [f for f, r in results.items() if r.ok]
            last_success = {**self._last_success, **dict.fromkeys(succeeded, now)}
            # publish the data first, then the status that announces it
            self._publish(succeeded, last_success)
            self._last_success = last_success
            for feed in succeeded:
                self._last_error[feed] = None
            return results

    # ----------------------------------------------------------------- audit
    def verify_audit(self) -> AuditStatus:
        """Fetch the hub's signed audit checkpoint and check it against the kept ones.

        A rewrite (same sequence number with another hash, a shorter chain, or
        rows that do not link from the last kept checkpoint to the new one)
        comes back with `error_code == "audit_rewrite"`; never raises for it.
        """
        with self._sync_lock:
            now = utcnow()
            try:
                keyset = self._refresh_trust(now)
            except SyncError as exc:
                status = AuditStatus(False, None, 0, exc.code, str(exc))
            else:
                status = self._audit_step(keyset, now)
            self.audit_status = status
            return status

    def audit_checkpoints(self) -> list[AuditCheckpoint]:
        """The audit checkpoints kept in the state directory, oldest first."""
        out = []
        for item in self._trust_store.load_audit_checkpoints():
            try:
                out.append(AuditCheckpoint(int(item["seq"]), str(item["hash"]),
                                           parse_time(item["issued_at"])))
            except (KeyError, TypeError, ValueError):
                continue
        return out

    def _audit_step(self, keyset: TrustedKeyset, now: datetime) -> AuditStatus:
        try:
            return self._check_audit(keyset, now)
        except SyncError as exc:
            level = logging.ERROR if exc.code == "audit_rewrite" else logging.WARNING
            logger.log(level, "audit checkpoint refused (%s): %s", exc.code, exc)
            return AuditStatus(False, None, 0, exc.code, str(exc))
        except OSError as exc:
            error = StoreError(f"cannot write the audit checkpoints: {exc.strerror}")
            return AuditStatus(False, None, 0, error.code, str(error))
        except Exception as exc:  # hostile input must never escape sync()
            error = _internal(exc, "audit checkpoint")
            return AuditStatus(False, None, 0, error.code, str(error))

    def _check_audit(self, keyset: TrustedKeyset, now: datetime) -> AuditStatus:
        body = self._fetcher.get("/v1/audit/checkpoint.json").body or b""
        checkpoint, envelope = verify_audit_checkpoint(keyset, body, now, self.clock_skew_s)
        kept = self._trust_store.load_audit_checkpoints()
        start = compare_audit_checkpoint(self.audit_checkpoints(), checkpoint)
        rows = 0
        if start is not None:
            rows = verify_audit_segment(start, checkpoint,
                                        self._chain_rows(start.seq or 1, checkpoint.seq))
        if not kept or int(kept[-1].get("seq", -1)) != checkpoint.seq:
            kept.append({"seq": checkpoint.seq, "hash": checkpoint.hash,
                         "issued_at": envelope["signed"]["issued_at"], "envelope": envelope})
            self._trust_store.save_audit_checkpoints(kept)
        return AuditStatus(True, checkpoint.seq, rows)

    def _chain_rows(self, first: int, last: int) -> Iterator[Mapping[str, Any]]:
        """Hash-only chain rows `first..last`, page by page (the hub caps a page)."""
        seq = first
        while seq <= last:
            limit = min(AUDIT_PROOF_PAGE, last - seq + 1)
            body = self._fetcher.get(f"/v1/audit/chain?from={seq}&limit={limit}").body or b""
            try:
                rows = json.loads(body)["rows"]
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                raise AuditCheckpointError(
                    f"audit chain answer is malformed: {type(exc).__name__}") from exc
            if not isinstance(rows, list) or not rows:
                return
            for row in rows:
                yield row
                seq += 1

    def _failed(self, feed: str, exc: SyncError) -> SyncResult:
        logger.warning("feed %s: sync refused (%s): %s", feed, exc.code, exc)
        self._last_error[feed] = (exc.code, str(exc))
        view = self.publication.views.get(feed)  # the last good data: the failure left it
        version = view.version if view is not None else None
        return SyncResult(feed, False, version, False, exc.code, str(exc))

    def _sync_feed(self, feed: str, keyset: TrustedKeyset, now: datetime) -> bool:
        stored = self._stored[feed]
        have_data = stored is not None and stored.data is not None
        answer = self._fetcher.get(f"/v1/feeds/{feed}/manifest.json",
                                   etag=stored.etag if have_data and stored else None,
                                   **_DOCUMENT_LIMIT)
        if answer.body is None:
            if not have_data or stored is None:
                raise FetchError("304 Not Modified without a stored manifest", status=304)
            # Unchanged bytes must still be fresh and signed by a key that is still current.
            verify_manifest(keyset, stored.manifest_envelope, feed, now, None, self.clock_skew_s)
            return False
        previous = stored.manifest if stored is not None else None
        signed = verify_manifest(keyset, answer.body, feed, now, previous, self.clock_skew_s)
        self._ensure_consortium_keys(signed)
        current_version = stored.version if have_data and stored else None
        if current_version == signed["version"] and stored is not None:
            self._commit(feed, answer.body, signed, None, answer.etag, now, stored.data_file)
            return False
        current = stored.data if have_data and stored else None
        try:
            data = self._download_apply(feed, signed, current, current_version)
        except SyncError as exc:
            if current_version is None:
                raise
            logger.info("feed %s: delta path failed (%s); retrying from the snapshot",
                        feed, exc.code)
            data = self._download_apply(feed, signed, None, None)
        self._commit(feed, answer.body, signed, data, answer.etag, now, None)
        return True

    def _commit(self, feed: str, envelope: bytes, signed: Mapping[str, Any], data: Any,
                etag: str | None, now: datetime, keep_data_file: str | None) -> None:
        try:
            self._stored[feed] = self._stores[feed].commit(
                envelope, signed, data, etag, now, keep_data_file=keep_data_file
            )
        except OSError as exc:
            raise StoreError(f"cannot write {self._stores[feed].dir}: {exc.strerror}") from exc

    def _download_apply(self, feed: str, signed: Mapping[str, Any], current: Any,
                        current_version: int | None) -> Any:
        refs = plan_update(signed, current_version, self.max_artifact_bytes)
        blobs = []
        for ref in refs:
            body = self._fetcher.get(f"/v1/feeds/{feed}/{ref.path}", max_bytes=ref.size).body
            if body is None:
                raise FetchError(f"304 for an artifact {ref.path}", status=304)
            check_artifact(ref, body)
            blobs.append(body)
        if feed in RECORD_FEEDS:
            return apply_record_artifacts(current, current_version, blobs, signed)
        return apply_key_artifacts(current, current_version, blobs, signed)

    # --------------------------------------------------------------- readers
    def _build_publication(self, feeds: Iterable[str],
                           last_success: Mapping[str, datetime | None],
                           previous: Publication | None) -> Publication:
        """`previous` with `feeds` re-read from what is stored now.

        Only feeds whose sync succeeded are re-read (a failed one keeps its last
        good view and freshness); an unchanged view stays the very same object.
        """
        views = dict(previous.views) if previous is not None else {}
        fresh_until = dict(previous.fresh_until) if previous is not None else {}
        for feed in feeds:
            stored = self._stored.get(feed)
            if stored is None or stored.data is None:
                views.pop(feed, None)
                fresh_until.pop(feed, None)
                self._epochs.pop(feed, None)
                continue
            if feed in PHONE_FEED_NAMES:
                self._epochs[feed] = frozenset(manifest_epochs(stored.manifest))
            records = stored.data if isinstance(stored.data, tuple) else ()
            keys = stored.data if isinstance(stored.data, KeySet) else _EMPTY_KEYS
            expires_at = parse_time(stored.manifest["expires_at"])
            old = views.get(feed)
            if old is None or old.version != stored.version or old.keys is not keys \
                    or old.expires_at != expires_at:
                views[feed] = FeedView(feed, stored.version, keys, tuple(records), False,
                                       expires_at)
            last = last_success.get(feed)
            fresh_until[feed] = NEVER_FRESH if last is None else min(
                expires_at, last + timedelta(seconds=self.stale_after_s))
        epochs = frozenset().union(*self._epochs.values())
        hash_keys = [] if self.oblivious is not None else [
            (e, self._consortium[e]) for e in sorted(epochs, reverse=True) if e in self._consortium]
        return Publication.build(views.values(), hash_keys, fresh_until, previous,
                                 self.oblivious)

    def _publish(self, feeds: Iterable[str], last_success: Mapping[str, datetime | None]) -> None:
        current = self.publication
        new = self._build_publication(feeds, last_success, current)
        if not new.same_content(current):
            self.publication = new

    def view(self, feed: str) -> FeedView | None:
        """The current verified view of `feed`, or None before its first good sync."""
        publication = self.publication
        view = publication.views.get(feed)
        if view is None:
            return None
        stale = publication.is_stale(feed, utcnow())
        return view if view.stale == stale else replace(view, stale=stale)

    def hash_keys(self) -> list[tuple[int, bytes]]:
        """(epoch, consortium key) for every epoch the phone feeds contain, newest first."""
        return list(self.publication.hash_keys)

    def status(self) -> dict[str, FeedStatus]:
        now = utcnow()
        publication = self.publication
        out = {}
        for feed in self.feeds:
            view = publication.views.get(feed)
            err = self._last_error.get(feed)
            out[feed] = FeedStatus(
                feed=feed,
                version=view.version if view else None,
                last_success=self._last_success.get(feed),
                last_error=err[1] if err else None,
                last_error_code=err[0] if err else None,
                stale=publication.is_stale(feed, now),
            )
        return out

    # ------------------------------------------------------------- schedule
    def start(self, interval_s: float = 300, jitter_s: float = 30) -> None:
        """Sync in the background: first after a random delay in [0, jitter_s]."""
        if self._scheduler is not None:
            return
        self._interval_s, self._jitter_s = float(interval_s), float(jitter_s)
        self._failures = 0
        scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        scheduler.start()
        self._scheduler = scheduler
        self._schedule(random.uniform(0, self._jitter_s))

    def _schedule(self, delay_s: float) -> None:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        scheduler.add_job(
            self._scheduled_sync, "date", run_date=utcnow() + timedelta(seconds=delay_s),
            id=_JOB_ID, replace_existing=True, misfire_grace_time=None, coalesce=True,
        )

    def _scheduled_sync(self) -> None:
        try:
            ok = all(r.ok for r in self.sync().values())
        except Exception:  # a bug must not kill the schedule; it is logged with its trace
            logger.exception("feed sync crashed")
            ok = False
        self._failures = 0 if ok else self._failures + 1
        min_poll = self._keyset.min_poll_interval_s if self._keyset else 0
        self._schedule(next_delay(self._interval_s, min_poll, self._failures, self._jitter_s,
                                  random.random(), self.max_backoff_s))

    def next_run_at(self) -> datetime | None:
        """When the background sync runs next (None when not started)."""
        scheduler = self._scheduler
        job = scheduler.get_job(_JOB_ID) if scheduler is not None else None
        return job.next_run_time if job is not None else None

    def stop(self) -> None:
        """Stop the background sync; a sync in progress finishes first."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)

    def close(self) -> None:
        self.stop()
        self._fetcher.close()
        if self.oblivious is not None:
            self.oblivious.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InternalSyncError(SyncError):
    """An unexpected exception during a sync: a bug or input no check anticipated.

    The trust core is meant to refuse every hostile document with a specific
    error; this is the net behind it so `sync()` still returns per-feed results
    and `status()` records the failure instead of the caller seeing a traceback.
    """

    code = "internal"


def _internal(exc: Exception, where: str) -> InternalSyncError:
    """Wrap an unexpected exception; its trace is logged, the message stays short."""
    logger.error("%s: unexpected %s during sync", where, type(exc).__name__, exc_info=exc)
    error = InternalSyncError(f"{where}: unexpected {type(exc).__name__}")
    error.__cause__ = exc
    return error


def _parse_consortium(data: bytes) -> dict[int, bytes]:
    try:
        doc = json.loads(data)
        return {int(item["epoch"]): b64decode(item["key"], length=32) for item in doc["keys"]}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ConsortiumKeyError(
            f"consortium-key answer is malformed: {type(exc).__name__}"
        ) from exc
