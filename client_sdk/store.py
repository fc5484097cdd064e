"""The SDK's on-disk state: one directory per feed, replaced atomically.

Layout under `state_dir`:

    trust/root.json           the root reached by walking the chain from the pinned key
    trust/keys.json           the last trusted keys.json, byte for byte
    trust/consortium.json     consortium keys per epoch (mode 0600: they reverse hashes)
    <feed>/state.json         the commit point: trusted manifest envelope, ETag, data file name,
                              and for phone feeds the overlay (adds/removes since the base file)
    <feed>/keys-<v>-<r>.u64   phone feeds: the base, sorted keys, flat little-endian uint64
    <feed>/records-<v>-<r>.json  complaint-groups: canonical JSON array of records

A sync writes the new data file under a fresh name and fsyncs it, then
replaces `state.json` (temp file + fsync + `os.replace` + fsync of the
directory), and only then deletes the old data file. A phone-feed delta sync
writes no data file at all (issue 15): the base stays and the overlay
(`client_sdk.keyset`) is part of `state.json`, replaced by the same one atomic
step; once the overlay passes `MERGE_AT` keys the sync writes a merged base
file first, as above, and commits it with an empty overlay. A crash at any point
leaves `state.json` naming a complete file: the old version or the new one.
Loading re-checks the data against the stored manifest's `set_digest`, so a
corrupted or truncated store is seen and dropped (forcing a snapshot download)
instead of being served.

Keys are opened with `np.memmap` read-only: ten million keys cost 80 MB of page
cache shared with the OS, never a Python set of ints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from client_sdk.keyset import MERGE_AT, KeySet
from schemas.artifact import ArtifactError
from schemas.atomicfile import atomic_write, fsync_dir
from schemas.canonical import canonical_json
from schemas.keys import b64decode, b64encode
from schemas.manifest import record_set_digest
from schemas.timefmt import format_time, parse_time

STATE_FORMAT = 1
_DATA_FILE = re.compile(r"^(keys|records)-\d+-[0-9a-f]+\.(u64|json)$")


def open_keys(path: Path) -> np.ndarray:
    """Map a keys file read-only (an empty feed cannot be mapped: use an empty array)."""
    if path.stat().st_size == 0:
        return np.empty(0, dtype=np.uint64)
    return np.memmap(path, dtype="<u8", mode="r")


@dataclass(frozen=True)
class StoredFeed:
    """What the store holds for one feed; `data` is None when it failed verification."""

    manifest_envelope: bytes
    manifest: dict[str, Any]
    data: KeySet | tuple[dict[str, Any], ...] | None
    etag: str | None
    synced_at: datetime | None
    data_file: str | None

    @property
    def version(self) -> int:
        return int(self.manifest["version"])


class FeedStore:
    """Per-feed state under `state_dir/<feed>/` (one FeedClient per state_dir)."""

    def __init__(self, state_dir: Path | str, feed: str, *, records: bool) -> None:
        self.dir = Path(state_dir) / feed
        self.feed = feed
        self.records = records
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    # ------------------------------------------------------------------ load
    def load(self) -> StoredFeed | None:
        """The stored feed, with `data` None if it does not match its manifest."""
        try:
            state = json.loads(self.state_path.read_bytes())
            envelope = state["manifest_envelope"].encode("utf-8")
            manifest = json.loads(envelope)["signed"]
            data_file = state["data_file"]
            synced_at = parse_time(state["synced_at"]) if state.get("synced_at") else None
            etag = state.get("etag")
            overlay = _decode_overlay(state.get("overlay"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        data = self._load_verified(data_file, manifest, overlay)
        return StoredFeed(
            manifest_envelope=envelope,
            manifest=manifest,
            data=data,
            etag=etag if data is not None else None,
            synced_at=synced_at,
            data_file=data_file if data is not None else None,
        )

    def _load_verified(
        self, data_file: Any, manifest: Mapping[str, Any],
        overlay: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> KeySet | tuple[dict[str, Any], ...] | None:
        if not isinstance(data_file, str) or not _DATA_FILE.match(data_file):
            return None
        path = self.dir / data_file
        try:
            if self.records:
                records = json.loads(path.read_bytes())
                if not isinstance(records, list) or len(records) != manifest.get("entry_count"):
                    return None
                if record_set_digest(records) != manifest.get("set_digest"):
                    return None
                return tuple(records)
            adds, removes = overlay if overlay is not None else (_NONE, _NONE)
            base_count = int(manifest.get("entry_count", -1)) - adds.size + removes.size
            if path.stat().st_size != 8 * base_count:
                return None
            fmt = int(manifest.get("format", 1))
            keys = KeySet.of(open_keys(path), base_file=data_file)
            if fmt != 1:
                keys.digest(fmt)  # the base's bucket digests, so the overlay rehashes its own
            if adds.size or removes.size:
                keys = keys.apply(adds, removes)
            if len(keys) != manifest.get("entry_count") or keys.digest(fmt) != manifest.get(
                "set_digest"
            ):
                return None
            return keys
        except (OSError, ValueError, KeyError, TypeError, ArtifactError):
            return None

    # ---------------------------------------------------------------- commit
    def _write_data(self, version: int, data: np.ndarray | Sequence[Mapping[str, Any]]) -> str:
        token = secrets.token_hex(4)
        if self.records:
            name = f"records-{version:08d}-{token}.json"
            payload = canonical_json([dict(r) for r in data])
            path = self.dir / name
            with open(path, "xb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            name = f"keys-{version:08d}-{token}.u64"
            path = self.dir / name
            keys = np.ascontiguousarray(data, dtype="<u8")
            with open(path, "xb") as fh:
                keys.tofile(fh)
                fh.flush()
                os.fsync(fh.fileno())
        return name

    def commit(
        self,
        manifest_envelope: bytes,
        manifest: Mapping[str, Any],
        data: KeySet | np.ndarray | Sequence[Mapping[str, Any]] | None,
        etag: str | None,
        synced_at: datetime,
        *,
        keep_data_file: str | None = None,
    ) -> StoredFeed:
        """Atomically make (manifest, data) the stored state and return it as loaded.

        `data` None with `keep_data_file` re-points at the current file: used for a
        refreshed manifest whose set did not change (a phone feed's overlay is kept).
        A `KeySet` on the stored base with an overlay under `MERGE_AT` writes no data
        file: the overlay goes into `state.json`.
        """
        overlay: dict[str, str] | None = None
        keyset: KeySet | None = None
        if data is None:
            if keep_data_file is None:
                raise ValueError("commit needs data or the data file to keep")
            name = keep_data_file
            if not self.records:
                overlay = self._current_overlay()
        elif not self.records and isinstance(data, KeySet) and data.base_file is not None \
                and data.overlay_size < MERGE_AT and (self.dir / data.base_file).is_file():
            keyset, name = data, data.base_file
            overlay = _encode_overlay(data) if data.overlay_size else None
        else:
            flat = data.materialize() if isinstance(data, KeySet) else data
            name = self._write_data(int(manifest["version"]), flat)
            fsync_dir(self.dir)
            if isinstance(data, KeySet):
                keyset = data.rebased(open_keys(self.dir / name), name)
        state = {
            "format": STATE_FORMAT,
            "feed": self.feed,
            "version": int(manifest["version"]),
            "data_file": name,
            "manifest_envelope": manifest_envelope.decode("utf-8"),
            "etag": etag,
            "synced_at": format_time(synced_at),
        }
        if overlay is not None:
            state["overlay"] = overlay
        atomic_write(self.state_path, canonical_json(state))
        self._remove_stale(keep=name)
        stored_data: KeySet | tuple[dict[str, Any], ...]
        if self.records:
            source = data if data is not None else json.loads((self.dir / name).read_bytes())
            stored_data = tuple(dict(r) for r in source)  # type: ignore[union-attr]
        elif keyset is not None:
            stored_data = keyset
        else:
            adds, removes = _decode_overlay(overlay)
            stored_data = KeySet(open_keys(self.dir / name), adds, removes, name)
        return StoredFeed(manifest_envelope, dict(manifest), stored_data, etag, synced_at, name)

    def _current_overlay(self) -> dict[str, str] | None:
        try:
            overlay = json.loads(self.state_path.read_bytes()).get("overlay")
        except (OSError, ValueError, AttributeError):
            return None
        return overlay if isinstance(overlay, dict) else None

    def _remove_stale(self, keep: str) -> None:
        """Delete data files and temp files the committed state no longer names."""
        for entry in self.dir.iterdir():
            if entry.name == keep:
                continue
            if _DATA_FILE.match(entry.name) or entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    entry.unlink()


AUDIT_CHECKPOINTS = "audit-checkpoints.json"
MAX_AUDIT_CHECKPOINTS = 256


_NONE = np.zeros(0, dtype=np.uint64)


def _encode_overlay(keys: KeySet) -> dict[str, str]:
    """The overlay as `state.json` holds it: base64 of little-endian u64 arrays."""
    return {
        "adds": b64encode(np.ascontiguousarray(keys.adds, dtype="<u8").tobytes()),
        "removes": b64encode(np.ascontiguousarray(keys.removes, dtype="<u8").tobytes()),
    }


def _decode_overlay(doc: Any) -> tuple[np.ndarray, np.ndarray]:
    """(adds, removes) of a stored overlay; ValueError when malformed (the load then fails)."""
    if doc is None:
        return _NONE, _NONE
    out = []
    for name in ("adds", "removes"):
        raw = b64decode(doc[name])
        if len(raw) % 8:
            raise ValueError(f"overlay {name} is not whole u64 values")
        out.append(np.frombuffer(raw, dtype="<u8").astype(np.uint64))
    return out[0], out[1]


class TrustStore:
    """Root, keyset and consortium keys under `state_dir/trust/`."""

    def __init__(self, state_dir: Path | str) -> None:
        self.dir = Path(state_dir) / "trust"
        self.dir.mkdir(parents=True, exist_ok=True)

    def load_root(self, pinned_keyid: str) -> dict[str, Any] | None:
        """The stored root, only if it was reached from the same pinned key."""
        try:
            doc = json.loads((self.dir / "root.json").read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("pinned_keyid") != pinned_keyid:
            return None
        return doc

    def save_root(self, pinned_keyid: str, version: int, public_key_b64: str,
                  expires_at: datetime | None = None) -> None:
        """The root reached from `pinned_keyid` and the earliest expiry learned for it."""
        doc: dict[str, Any] = {"pinned_keyid": pinned_keyid, "version": version,
                               "public_key": public_key_b64}
        if expires_at is not None:
            doc["expires_at"] = format_time(expires_at)
        atomic_write(self.dir / "root.json", canonical_json(doc))

    def load_keyset(self) -> bytes | None:
        try:
            return (self.dir / "keys.json").read_bytes()
        except OSError:
            return None

    def save_keyset(self, data: bytes) -> None:
        atomic_write(self.dir / "keys.json", data)

    def load_consortium(self) -> dict[int, bytes]:
        try:
            doc = json.loads((self.dir / "consortium.json").read_bytes())
            return {int(e): b64decode(k, length=32) for e, k in doc["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def save_consortium(self, keys: Mapping[int, bytes]) -> None:
        doc = {"keys": {str(e): b64encode(k) for e, k in sorted(keys.items())}}
        atomic_write(self.dir / "consortium.json", canonical_json(doc), mode=0o600)
        os.chmod(self.dir / "consortium.json", 0o600)

    def load_audit_checkpoints(self) -> list[dict[str, Any]]:
        """The audit checkpoints kept so far, oldest first (each with its signed envelope)."""
        try:
            doc = json.loads((self.dir / AUDIT_CHECKPOINTS).read_bytes())
            items = doc["checkpoints"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []

    def save_audit_checkpoints(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Keep the newest `MAX_AUDIT_CHECKPOINTS`: enough evidence, bounded disk."""
        kept = list(items)[-MAX_AUDIT_CHECKPOINTS:]
        atomic_write(self.dir / AUDIT_CHECKPOINTS, canonical_json({"checkpoints": kept}))
