"""The file side of publishing a feed version: artifacts, manifest, retention. No DB.

A feed directory is plain static files, servable by any web server or CDN:

    <feeds_dir>/<feed>/manifest.json            the signed manifest (replaced atomically)
    <feeds_dir>/<feed>/artifacts/<sha256>.lfa   immutable, content-addressed
    <feeds_dir>/<feed>/.state/                  private: the materialised set per version,
                                                so a build never re-reads the listing table

Order matters for readers: artifacts are written (tmp + fsync + rename) before
the manifest that names them, and the manifest is swapped with `os.replace`,
so a reader sees the old manifest or the new one, never one pointing at a
missing or half-written file. The builder commits the DB between the two steps
(`prepare_publish` then `install_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hub.feeds.entries import kind_of
from hub.filemodes import PRIVATE_FILE_MODE, private_dir
from schemas import artifact as codec
from schemas.atomicfile import atomic_write, fsync_dir
from schemas.canonical import canonical_json
from schemas.manifest import MANIFEST_FORMAT, chain_digest
from schemas.timefmt import format_time, parse_time

DEFAULT_SNAPSHOT_EVERY = 20
DEFAULT_MANIFEST_LIFETIME = timedelta(days=2)
DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_DELTA_WINDOW = timedelta(hours=24)
DEFAULT_DELTA_WINDOW_VERSIONS = 50
MAX_KEPT_DELTAS = 500
"""Hard cap on the deltas a manifest keeps from before its snapshot, whatever the
window says: each costs ~170 bytes in a manifest every screener downloads on every
new version, and the SDK refuses a manifest over 1 MiB (client_sdk.trust)."""
MANIFEST_NAME = "manifest.json"
ARTIFACT_DIR = "artifacts"
STATE_DIR = ".state"
ARTIFACT_NAME = re.compile(r"^[0-9a-f]{64}\.lfa$")
_STATE_NAME = re.compile(r"^entries-(\d+)\.(u64|json)$")
_UNREFERENCED = "unreferenced.json"

Signer = Callable[[dict[str, Any]], dict[str, Any]]


class PublishError(RuntimeError):
    """The feed directory does not match what the caller says was published."""


@dataclass(frozen=True)
class FeedPaths:
    """Where one feed's files live."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACT_DIR

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    def artifact(self, rel_path: str) -> Path:
        """The file of a manifest `path`; refuses anything but `artifacts/<sha256>.lfa`."""
        folder, _, name = rel_path.partition("/")
        if folder != ARTIFACT_DIR or not ARTIFACT_NAME.match(name):
            raise PublishError(f"not an artifact path: {rel_path!r}")
        return self.artifacts / name

    def ensure(self) -> None:
        for d in (self.root, self.artifacts, self.state):
            private_dir(d)


def feed_paths(feeds_dir: Path | str, feed: str) -> FeedPaths:
    kind_of(feed)  # validates the name: it becomes a directory
    return FeedPaths(Path(feeds_dir) / feed)


@dataclass(frozen=True)
class Prepared:
    """A version whose artifacts and state are on disk but whose manifest is not yet live."""

    envelope: dict[str, Any]
    entries: Any
    artifact_bytes: int

    @property
    def signed(self) -> dict[str, Any]:
        return self.envelope["signed"]

    @property
    def version(self) -> int:
        return int(self.signed["version"])

    @property
    def entry_count(self) -> int:
        return int(self.signed["entry_count"])


# ----------------------------------------------------------------- artifacts


def write_artifact(paths: FeedPaths, data: bytes) -> dict[str, Any]:
    """Store `data` under its SHA-256 (skip when present); returns the manifest reference."""
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{ARTIFACT_DIR}/{sha}.lfa"
    target = paths.artifacts / f"{sha}.lfa"
    if not target.exists():
        private_dir(paths.artifacts)
        atomic_write(target, data, PRIVATE_FILE_MODE)
    return {"path": rel, "sha256": sha, "size": len(data)}


def read_envelope(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def read_manifest(paths: FeedPaths) -> dict[str, Any] | None:
    """The manifest envelope currently live on disk, or None before the first publish."""
    return read_envelope(paths.manifest)


FLOOR_NAME = "published-floor.json"
"""In `.state/`: the newest manifest a restore learnt was published (`--published-from`)."""


def newest_published(paths: FeedPaths) -> dict[str, Any] | None:
    """The newest manifest ever published here: the live file, or the restore's floor.

    Ordered by (version, issued_at), like `install_manifest`: a build never
    publishes at or below it, so no screener ever sees two manifests for one version.
    """
    found = [e for e in (read_manifest(paths), read_envelope(paths.state / FLOOR_NAME)) if e]
    if not found:
        return None
    return max(found, key=lambda e: (int(e["signed"]["version"]), e["signed"]["issued_at"]))


def record_floor(paths: FeedPaths, envelope: Mapping[str, Any]) -> None:
    """Remember `envelope` as published (it may name artifacts this disk lacks)."""
    paths.ensure()
    atomic_write(paths.state / FLOOR_NAME, manifest_bytes(envelope), 0o600)


# ------------------------------------------------------------------- publish


def _since_snapshot(deltas: Sequence[Mapping[str, Any]], snapshot_version: int) -> list[Any]:
    """The deltas that lead from the snapshot to the live version (what a new client needs)."""
    return [d for d in deltas if int(d["from"]) >= snapshot_version]


def _snapshot_due(
    previous: Mapping[str, Any] | None, version: int, delta_size: int, snapshot_every: int
) -> bool:
    """A fresh snapshot every `snapshot_every` versions, or once deltas outweigh the snapshot.

    The second rule keeps a new client's download (snapshot + its deltas) at most
    about twice the size of the set itself; deltas kept from before the snapshot
    (the window) are not part of that download, so they do not count.
    """
    if previous is None:
        return True
    snap = previous["snapshot"]
    if version - int(snap["version"]) >= snapshot_every:
        return True
    since = _since_snapshot(previous.get("deltas", []), int(snap["version"]))
    pending = sum(int(d["size"]) for d in since) + delta_size
    return pending > int(snap["size"])


def kept_deltas(
    deltas: Sequence[Mapping[str, Any]], snapshot: Mapping[str, Any], floor: int | None
) -> list[dict[str, Any]]:
    """The deltas the next manifest lists: every one since the snapshot, plus the
    unbroken run before it back to version `floor` (issue 13 item 8).

    A screener at version v < snapshot syncs by deltas when the delta from v is kept.
    The run before the snapshot stops at `floor` (None: keep none, the old rule), at
    `MAX_KEPT_DELTAS`, and where reaching the live version from that delta would
    cost more bytes than the snapshot and its deltas: the SDK then takes the
    snapshot anyway, so such a delta would only make the manifest larger.
    """
    snap_version = int(snapshot["version"])
    since = [dict(d) for d in _since_snapshot(deltas, snap_version)]
    if floor is None:
        return since
    by_from = {int(d["from"]): d for d in deltas if int(d["from"]) < snap_version}
    fresh_cost = int(snapshot["size"]) + sum(int(d["size"]) for d in since)
    chain_cost = sum(int(d["size"]) for d in since)
    before: list[dict[str, Any]] = []
    version = snap_version - 1
    while version >= max(floor, 1) and version in by_from and len(before) < MAX_KEPT_DELTAS:
        delta = by_from[version]
        if int(delta["to"]) != version + 1:
            break
        chain_cost += int(delta["size"])
        if chain_cost > fresh_cost:
            break
        before.append(dict(delta))
        version -= 1
    return [*reversed(before), *since]


def _state_path(paths: FeedPaths, feed: str, version: int) -> Path:
    return paths.state / f"entries-{version}{kind_of(feed).state_suffix}"


def prepare_publish(
    paths: FeedPaths,
    feed: str,
    previous: Mapping[str, Any] | None,
    base: Any,
    adds: Any,
    removes: Any,
    *,
    sign: Signer,
    now: datetime,
    key_epochs: Sequence[Mapping[str, Any]] = (),
    lifetime: timedelta = DEFAULT_MANIFEST_LIFETIME,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    delta_floor: int | None = None,
) -> Prepared:
    """Write the artifacts and state of the next version and sign its manifest.

    `previous` is the `signed` part of the live manifest (None for the first
    publish), `base` its entries, and `adds`/`removes` the **net** change (the
    codec refuses an add already present or a remove that is absent).
    `delta_floor` is the oldest version whose screeners must still sync by
    deltas after a snapshot cut (`kept_deltas`); None drops them at the cut.
    """
    kind = kind_of(feed)
    paths.ensure()
    version = int(previous["version"]) + 1 if previous else 1
    entries = kind.apply(base, adds, removes)
    delta_data = (
        kind.delta(adds, removes, version - 1, version) if previous is not None else b""
    )
    written = 0
    deltas = [dict(d) for d in previous.get("deltas", [])] if previous is not None else []
    if previous is not None:
        deltas.append({"from": version - 1, "to": version, "path": "", "sha256": "",
                       "size": len(delta_data)})
    if _snapshot_due(previous, version, len(delta_data), snapshot_every):
        data = kind.snapshot(entries, version)
        snapshot = {"version": version, **write_artifact(paths, data)}
        written += len(data)
    else:
        assert previous is not None
        snapshot = dict(previous["snapshot"])
    deltas = kept_deltas(deltas, snapshot, delta_floor)
    if deltas and deltas[-1]["to"] == version:  # the new delta is listed: write it
        deltas[-1].update(write_artifact(paths, delta_data))
        written += len(delta_data)
    atomic_write(_state_path(paths, feed, version), kind.dump(entries), PRIVATE_FILE_MODE)
    signed = {
        "type": "manifest",
        "format": MANIFEST_FORMAT,
        "feed": feed,
        "version": version,
        "issued_at": format_time(now),
        "expires_at": format_time(now + lifetime),
        "entry_count": kind.count(entries),
        "set_digest": kind.digest(entries),
        "prev_manifest_sha256": chain_digest(previous) if previous else None,
        "key_epochs": [dict(e) for e in key_epochs],
        "snapshot": snapshot,
        "deltas": deltas,
    }
    return Prepared(envelope=sign(signed), entries=entries, artifact_bytes=written)


def manifest_bytes(envelope: Mapping[str, Any]) -> bytes:
    return canonical_json(dict(envelope))


def install_manifest(paths: FeedPaths, envelope: Mapping[str, Any]) -> bool:
    """Make `envelope` the live manifest, unless the disk already holds a newer signing.

    Every artifact it names must already exist: that is what makes the swap safe
    for readers. Returns True when the file was replaced.
    """
    signed = envelope["signed"]
    for ref in [signed["snapshot"], *signed.get("deltas", [])]:
        if not paths.artifact(ref["path"]).is_file():
            raise PublishError(f"manifest v{signed['version']} names missing {ref['path']}")
    live = read_manifest(paths)
    if live is not None:
        old = live["signed"]
        if (old["version"], old["issued_at"]) > (signed["version"], signed["issued_at"]):
            return False
        if old == signed and live.get("signatures") == envelope.get("signatures"):
            return False  # a re-signing by a new feed key in the same second still lands
    paths.ensure()
    atomic_write(paths.manifest, manifest_bytes(envelope), PRIVATE_FILE_MODE)
    return True


def publish(
    paths: FeedPaths,
    feed: str,
    previous: Mapping[str, Any] | None,
    base: Any,
    adds: Any,
    removes: Any,
    **kwargs: Any,
) -> Prepared:
    """prepare_publish + install_manifest, for callers without a database in between."""
    prepared = prepare_publish(paths, feed, previous, base, adds, removes, **kwargs)
    install_manifest(paths, prepared.envelope)
    return prepared


# ------------------------------------------------------------------- refresh


def refresh_due(
    signed: Mapping[str, Any], now: datetime, current_keyid: str | None = None,
    signer_keyids: Sequence[str] = (),
) -> bool:
    """A quarter of the lifetime has passed, or the manifest was signed by a retired key."""
    issued, expires = parse_time(signed["issued_at"]), parse_time(signed["expires_at"])
    if now >= issued + (expires - issued) / 4:
        return True
    return current_keyid is not None and current_keyid not in signer_keyids


def refresh(
    signed: Mapping[str, Any], *, sign: Signer, now: datetime,
    lifetime: timedelta = DEFAULT_MANIFEST_LIFETIME,
) -> dict[str, Any]:
    """Re-sign with new issued_at/expires_at and nothing else changed (chain stays intact)."""
    fresh = dict(signed)
    fresh["issued_at"] = format_time(now)
    fresh["expires_at"] = format_time(now + lifetime)
    return sign(fresh)


# -------------------------------------------------------------------- state


def _format(signed: Mapping[str, Any]) -> int:
    """The manifest format `signed` was published in (its digest rules)."""
    return int(signed.get("format", 1))


def entries_from_artifacts(paths: FeedPaths, feed: str, signed: Mapping[str, Any]) -> Any:
    """Rebuild the set of `signed` from its snapshot and deltas, checked against set_digest."""
    kind = kind_of(feed)
    entries = None
    snap_version = int(signed["snapshot"]["version"])
    refs = [signed["snapshot"], *_since_snapshot(signed.get("deltas", []), snap_version)]
    for ref in refs:
        data = paths.artifact(ref["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != ref["sha256"]:
            raise PublishError(f"{ref['path']} does not match its SHA-256")
        entries = kind.apply_artifact(entries, codec.decode_artifact(data))
    if entries is None or kind.digest(entries, _format(signed)) != signed["set_digest"]:
        raise PublishError(f"artifacts of {feed} v{signed['version']} do not give set_digest")
    return entries


def load_entries(paths: FeedPaths, feed: str, signed: Mapping[str, Any] | None) -> Any:
    """The entries at `signed`'s version: the private state file, else the artifacts.

    This is what keeps a build's cost independent of the listing table: the
    set comes from one local file (8 bytes per phone key), not from the DB.
    """
    kind = kind_of(feed)
    if signed is None:
        return kind.empty()
    state = _state_path(paths, feed, int(signed["version"]))
    if state.is_file():
        entries = kind.load(state)
        if kind.count(entries) == signed["entry_count"] and kind.digest(
            entries, _format(signed)
        ) == signed["set_digest"]:
            return entries
    entries = entries_from_artifacts(paths, feed, signed)
    paths.ensure()
    atomic_write(state, kind.dump(entries), PRIVATE_FILE_MODE)
    return entries


def build_key_set_from_artifacts(feed_dir: Path | str) -> Any:
    """The live set of a feed directory, from its manifest and artifacts alone."""
    paths = FeedPaths(Path(feed_dir))
    envelope = read_manifest(paths)
    if envelope is None:
        raise PublishError(f"no manifest in {feed_dir}")
    signed = envelope["signed"]
    return entries_from_artifacts(paths, signed["feed"], signed)


# ----------------------------------------------------------------- retention


def referenced(signed: Mapping[str, Any] | None) -> set[str]:
    if signed is None:
        return set()
    return {Path(r["path"]).name for r in [signed["snapshot"], *signed.get("deltas", [])]}


def collect_garbage(
    paths: FeedPaths, signed: Mapping[str, Any] | None, now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
) -> list[str]:
    """Delete artifacts unreferenced for longer than `retention`; returns their names.

    The clock starts when an artifact stops being referenced (tracked in
    `.state/unreferenced.json`), not when it was written: a client holding the
    previous manifest may still fetch what it named during the window.
    Old state files (all but the live version and the one before) go at once.
    """
    if not paths.artifacts.is_dir():
        return []
    keep = referenced(signed)
    ledger_path = paths.state / _UNREFERENCED
    ledger: dict[str, str] = read_envelope(ledger_path) or {}
    removed: list[str] = []
    present = {p.name for p in paths.artifacts.iterdir() if ARTIFACT_NAME.match(p.name)}
    new_ledger: dict[str, str] = {}
    for name in sorted(present - keep):
        since = ledger.get(name)
        if since is None:
            new_ledger[name] = format_time(now)
        elif now - parse_time(since) >= retention:
            (paths.artifacts / name).unlink(missing_ok=True)
            removed.append(name)
        else:
            new_ledger[name] = since
    if new_ledger != ledger:
        paths.ensure()
        atomic_write(ledger_path, json.dumps(new_ledger, sort_keys=True).encode(),
                     PRIVATE_FILE_MODE)
    if removed:
        fsync_dir(paths.artifacts)
    if signed is not None and paths.state.is_dir():
        live = int(signed["version"])
        for p in paths.state.iterdir():
            m = _STATE_NAME.match(p.name)
            if m and int(m.group(1)) < live - 1:
                p.unlink(missing_ok=True)
    return removed
