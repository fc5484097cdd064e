"""Test data: plays the hub's signing role with real Ed25519 keys and the real codec.

It builds exactly the wire documents of docs/FORMATS.md (roots.json, keys.json,
manifests, `.lfa` artifacts, the consortium-key answer) so the SDK's trust core
and FeedClient can be attacked with crafted-but-real inputs. It is not a mock
of project code: everything it emits goes through `schemas/`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.canonical import canonical_json
from schemas.envelope import keyid_of, public_key_raw, sign_envelope
from schemas.keys import b64encode
from schemas.manifest import MANIFEST_FORMAT, chain_digest, key_set_digest, record_set_digest
from schemas.timefmt import format_time

RECORD_FEEDS = ("complaint-groups",)


def envelope_bytes(signed: Mapping[str, Any], *keys: Ed25519PrivateKey) -> bytes:
    return canonical_json(sign_envelope(signed, *keys))


def pub_b64(key: Ed25519PrivateKey) -> str:
    return b64encode(public_key_raw(key.public_key()))


@dataclass
class FeedHistory:
    """Everything the hub published for one feed."""

    name: str
    version: int = 0
    data: Any = None  # np.ndarray of keys or list of records at `version`
    signed: dict[int, dict[str, Any]] = field(default_factory=dict)  # latest signing per version
    envelopes: dict[int, list[bytes]] = field(default_factory=dict)  # every signing per version
    artifacts: dict[str, bytes] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    deltas: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> bool:
        return self.name in RECORD_FEEDS

    def latest(self) -> bytes:
        return self.envelopes[self.version][-1]


class FeedFactory:
    """A miniature hub: keys, keysets, feeds and their signed history."""

    def __init__(self, now: datetime, *, epochs: Iterable[int] = (1,)) -> None:
        self.now = now
        self.root_key = Ed25519PrivateKey.generate()
        self.root_version = 1
        self.roots: list[dict[str, Any]] = []
        self.feed_key = Ed25519PrivateKey.generate()
        self.feed_key_expires = now + timedelta(days=365)
        self.keyset_version = 0
        self.min_poll_interval_s = 60
        self.consortium: dict[int, bytes] = {e: os.urandom(32) for e in epochs}
        self.feeds: dict[str, FeedHistory] = {}
        self.snapshot_every = 4
        self.manifest_format = MANIFEST_FORMAT
        """1 plays a hub from before issue 15 (flat SHA-256 set digest)."""

    # ------------------------------------------------------------- root/keys
    @property
    def root_public_b64(self) -> str:
        return pub_b64(self.root_key)

    def rotate_root(self) -> Ed25519PrivateKey:
        new = Ed25519PrivateKey.generate()
        self.root_version += 1
        signed = {
            "type": "root",
            "version": self.root_version,
            "keyid": keyid_of(new),
            "public_key": pub_b64(new),
            "issued_at": format_time(self.now),
        }
        self.roots.append(sign_envelope(signed, self.root_key, new))
        self.root_key = new
        return new

    def roots_json(self) -> bytes:
        return canonical_json(self.roots)

    def keyset(
        self,
        *,
        version: int | None = None,
        expires_in: timedelta = timedelta(days=30),
        signer: Ed25519PrivateKey | None = None,
        feed_keys: Iterable[tuple[Ed25519PrivateKey, datetime]] | None = None,
    ) -> bytes:
        if version is None:
            self.keyset_version += 1
            version = self.keyset_version
        keys = list(feed_keys) if feed_keys is not None else [
            (self.feed_key, self.feed_key_expires)
        ]
        signed = {
            "type": "keyset",
            "version": version,
            "issued_at": format_time(self.now),
            "expires_at": format_time(self.now + expires_in),
            "root_keyid": keyid_of(self.root_key),
            "feed_keys": [
                {"keyid": keyid_of(k), "public_key": pub_b64(k), "expires_at": format_time(exp)}
                for k, exp in keys
            ],
            "min_poll_interval_s": self.min_poll_interval_s,
        }
        return envelope_bytes(signed, signer or self.root_key)

    def consortium_json(self) -> bytes:
        current = max(self.consortium)
        return canonical_json({
            "current_epoch": current,
            "keys": [
                {"epoch": e, "key": b64encode(k),
                 "state": "current" if e == current else "retiring",
                 "created_at": format_time(self.now)}
                for e, k in sorted(self.consortium.items(), reverse=True)
            ],
        })

    # ----------------------------------------------------------------- feeds
    def feed(self, name: str) -> FeedHistory:
        return self.feeds.setdefault(name, FeedHistory(name))

    def _add_artifact(self, hist: FeedHistory, data: bytes) -> dict[str, Any]:
        sha = hashlib.sha256(data).hexdigest()
        path = f"artifacts/{sha}.lfa"
        hist.artifacts[path] = data
        return {"path": path, "sha256": sha, "size": len(data)}

    def publish(self, name: str, content: Any, *, snapshot: bool | None = None,
                expires_in: timedelta = timedelta(days=2)) -> bytes:
        """Publish a new version holding `content` (keys or records); returns the manifest."""
        from schemas import artifact as codec

        hist = self.feed(name)
        new_version = hist.version + 1
        if hist.records:
            new = sorted((dict(r) for r in content), key=lambda r: r["group_id"])
        else:
            new = np.unique(np.asarray(list(content), dtype=np.uint64))
        full = snapshot if snapshot is not None else (
            hist.version == 0 or (new_version - 1) % self.snapshot_every == 0
        )
        if full:
            data = (codec.encode_record_snapshot(new, new_version) if hist.records
                    else codec.encode_key_snapshot(new, new_version))
            hist.snapshot = {"version": new_version, **self._add_artifact(hist, data)}
            hist.deltas = []
        else:
            if hist.records:
                old = {r["group_id"]: r for r in hist.data}
                cur = {r["group_id"]: r for r in new}
                adds = [r for gid, r in cur.items() if old.get(gid) != r]
                removed = sorted(gid for gid, r in old.items() if cur.get(gid) != r)
                data = codec.encode_record_delta(adds, removed, hist.version, new_version)
            else:
                adds = np.setdiff1d(new, hist.data)
                removes = np.setdiff1d(hist.data, new)
                data = codec.encode_key_delta(adds, removes, hist.version, new_version)
            hist.deltas.append({"from": hist.version, "to": new_version,
                                **self._add_artifact(hist, data)})
        prev = hist.signed.get(hist.version)
        signed = {
            "type": "manifest",
            "format": self.manifest_format,
            "feed": name,
            "version": new_version,
            "issued_at": format_time(self.now),
            "expires_at": format_time(self.now + expires_in),
            "entry_count": len(new),
            "set_digest": record_set_digest(new) if hist.records else key_set_digest(
                new, self.manifest_format),
            "prev_manifest_sha256": chain_digest(prev) if prev else None,
            "key_epochs": [
                {"epoch": e, "key_sha256": hashlib.sha256(k).hexdigest()}
                for e, k in sorted(self.consortium.items())
            ],
            "snapshot": dict(hist.snapshot or {}),
            "deltas": [dict(d) for d in hist.deltas],
        }
        hist.version, hist.data = new_version, new
        return self.sign_manifest(name, signed)

    def sign_manifest(self, name: str, signed: Mapping[str, Any],
                      signer: Ed25519PrivateKey | None = None, *, record: bool = True) -> bytes:
        data = envelope_bytes(signed, signer or self.feed_key)
        if record:
            hist = self.feed(name)
            hist.signed[signed["version"]] = dict(signed)
            hist.envelopes.setdefault(signed["version"], []).append(data)
        return data

    def refresh(self, name: str, *, expires_in: timedelta = timedelta(days=2)) -> bytes:
        """Re-sign the current version with new timestamps (what the hub does at 1/4 life)."""
        hist = self.feed(name)
        signed = dict(hist.signed[hist.version])
        signed["issued_at"] = format_time(self.now)
        signed["expires_at"] = format_time(self.now + expires_in)
        return self.sign_manifest(name, signed)

    def variant(self, name: str, change: Callable[[dict[str, Any]], None],
                signer: Ed25519PrivateKey | None = None) -> bytes:
        """The current manifest with `change` applied, validly signed (a hostile hub key)."""
        signed = json.loads(json.dumps(self.feed(name).signed[self.feed(name).version]))
        change(signed)
        return self.sign_manifest(name, signed, signer, record=False)

    def plan_bytes(self, name: str, paths: Iterable[str]) -> list[bytes]:
        arts = self.feed(name).artifacts
        return [arts[p] for p in paths]

    # --------------------------------------------------------------- on disk
    def write(self, root: Path, *, keyset: bytes | None = None) -> None:
        """Lay the hub's public tree out as static files (the FORMATS.md URL paths)."""
        v1 = root / "v1"
        v1.mkdir(parents=True, exist_ok=True)
        _atomic_write(v1 / "keys.json", keyset if keyset is not None else self.keyset())
        _atomic_write(v1 / "roots.json", self.roots_json())
        _atomic_write(v1 / "consortium-key", self.consortium_json())
        for name, hist in self.feeds.items():
            feed_dir = v1 / "feeds" / name
            (feed_dir / "artifacts").mkdir(parents=True, exist_ok=True)
            for path, data in hist.artifacts.items():
                if not (feed_dir / path).exists():
                    _atomic_write(feed_dir / path, data)
            if hist.version:
                _atomic_write(feed_dir / "manifest.json", hist.latest())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
