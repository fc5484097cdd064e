"""Root and feed signing keys on disk, and the documents they sign (docs/ARCHITECTURE.md §5).

Why two levels: screeners pin only the root public key, so the root key can
stay cold while feed keys (online, used on every build) rotate freely. A new
feed key is announced in a root-signed `keys.json`; a new root is announced by
a statement signed by the old root and by itself (`roots.json`).

Layout under `keys_dir`: `root-<n>.pem`, `feed-<n>.pem` (mode 0600; PKCS8 PEM,
or scrypt + AES-GCM under the passphrase when one is given: `schemas.keyfile`,
which also reads the PBKDF2 files older hubs wrote) and `keystore.json` (which key
is current, expiries, the root chain), written atomically. Mutations take an
exclusive `flock` on `keystore.lock`, so several gunicorn workers sharing one
directory never interleave a rotation.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.filemodes import private_dir
from schemas.atomicfile import atomic_write, fsync_dir, write_all
from schemas.envelope import keyid_of, public_key_raw, sign_envelope
from schemas.keyfile import KeyFileError, dump_private_key, load_private_key
from schemas.keys import b64decode, b64encode, fingerprint
from schemas.timefmt import format_time, parse_time, utcnow

META_FILE = "keystore.json"
LOCK_FILE = "keystore.lock"
DEFAULT_MIN_POLL_INTERVAL_S = 60
DEFAULT_ROOT_LIFETIME = timedelta(days=365)
"""How long a rotated-in root is trusted (its statement's `expires_at`); the
operator rotates the root before then. Setting: `feed_root_lifetime_s`."""


class KeystoreError(RuntimeError):
    """The key directory is missing, unreadable or inconsistent."""


class Keystore:
    """The hub's signing keys; every method re-reads metadata so workers agree."""

    def __init__(
        self,
        keys_dir: Path | str,
        passphrase: str | None = None,
        min_poll_interval_s: int = DEFAULT_MIN_POLL_INTERVAL_S,
        root_lifetime: timedelta = DEFAULT_ROOT_LIFETIME,
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self.root_lifetime = root_lifetime
        self._passphrase = passphrase.encode("utf-8") if passphrase else None
        self.min_poll_interval_s = min_poll_interval_s
        self._cache: dict[str, Ed25519PrivateKey] = {}

    # ------------------------------------------------------------------ disk

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.keys_dir)
        fd = os.open(self.keys_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _meta_path(self) -> Path:
        return self.keys_dir / META_FILE

    def exists(self) -> bool:
        return self._meta_path().is_file()

    def _load_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self._meta_path().read_text("utf-8"))
        except FileNotFoundError:
            raise KeystoreError(
                f"no keystore in {self.keys_dir}; run `lianfang-hub init` first"
            ) from None

    def _save_meta(self, meta: dict[str, Any]) -> None:
        data = json.dumps(meta, indent=2, sort_keys=True).encode("utf-8")
        atomic_write(self._meta_path(), data, 0o600)

    def _write_key(self, name: str) -> Ed25519PrivateKey:
        """Create a fresh key file; O_EXCL so an existing key is never overwritten."""
        key = Ed25519PrivateKey.generate()
        pem = dump_private_key(key, self._passphrase)
        path = self.keys_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            write_all(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.keys_dir)
        self._cache[name] = key
        return key

    def _read_key(self, name: str) -> Ed25519PrivateKey:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        pem = (self.keys_dir / name).read_bytes()
        try:
            key = load_private_key(pem, self._passphrase)
        except KeyFileError as exc:
            raise KeystoreError(
                f"cannot load {name}: {exc} (LIANFANG_KEY_PASSPHRASE?)"
            ) from exc
        self._cache[name] = key
        return key

    @staticmethod
    def _key_entry(key: Ed25519PrivateKey, name: str, number: int, now: datetime
                   ) -> dict[str, Any]:
        raw = public_key_raw(key.public_key())
        return {
            "n": number,
            "file": name,
            "keyid": keyid_of(key),
            "public_key": b64encode(raw),
            "created_at": format_time(now),
        }

    # ------------------------------------------------------------- lifecycle

    def ensure(self, now: datetime | None = None) -> bool:
        """Create the root key and the first feed key if absent; True when created."""
        with self._locked():
            if self.exists():
                return False
            now = now or utcnow()
            root = self._write_key("root-1.pem")
            feed = self._write_key("feed-1.pem")
            meta = {
                "keyset_version": 1,
                "roots": [{**self._key_entry(root, "root-1.pem", 1, now),
                           "expires_at": format_time(now + self.root_lifetime)}],
                "root_chain": [],
                "feed_keys": [{**self._key_entry(feed, "feed-1.pem", 1, now), "retire_at": None}],
            }
            self._save_meta(meta)
            return True

    def _current_root(self, meta: dict[str, Any]) -> dict[str, Any]:
        return meta["roots"][-1]

    def _current_feed(self, meta: dict[str, Any]) -> dict[str, Any]:
        return meta["feed_keys"][-1]

    def load_current_keys(self) -> None:
        """Decrypt the current root and feed keys (readiness: a wrong passphrase shows here)."""
        meta = self._load_meta()
        self._read_key(self._current_root(meta)["file"])
        self._read_key(self._current_feed(meta)["file"])

    def root_public_b64(self) -> str:
        """What screeners pin (`lianfang-hub root-key`): the current root's public key."""
        return self._current_root(self._load_meta())["public_key"]

    def root_version(self) -> int:
        return int(self._current_root(self._load_meta())["n"])

    def root_fingerprint(self) -> str:
        entry = self._current_root(self._load_meta())
        return fingerprint(b64decode(entry["public_key"]))

    def current_feed_keyid(self) -> str:
        return self._current_feed(self._load_meta())["keyid"]

    # --------------------------------------------------------------- rotation

    def _prune(self, meta: dict[str, Any], now: datetime) -> bool:
        """Drop feed keys whose overlap has ended; a change bumps the keyset version."""
        keep = [
            k for k in meta["feed_keys"]
            if k["retire_at"] is None or parse_time(k["retire_at"]) > now
        ]
        if len(keep) == len(meta["feed_keys"]):
            return False
        meta["feed_keys"] = keep
        meta["keyset_version"] += 1
        return True

    def rotate_feed_key(self, overlap: timedelta, now: datetime | None = None) -> str:
        """Start signing with a new feed key; the old one stays announced for `overlap`.

        Manifests already in readers' hands were signed by the old key, so it must
        stay in keys.json until they have been re-signed (the builder re-signs any
        manifest not signed by the current key) and clients have re-polled.
        """
        with self._locked():
            now = now or utcnow()
            meta = self._load_meta()
            self._prune(meta, now)
            number = max(k["n"] for k in meta["feed_keys"]) + 1
            for entry in meta["feed_keys"]:
                if entry["retire_at"] is None:
                    entry["retire_at"] = format_time(now + overlap)
            name = f"feed-{number}.pem"
            key = self._write_key(name)
            meta["feed_keys"].append({**self._key_entry(key, name, number, now), "retire_at": None})
            meta["keyset_version"] += 1
            self._save_meta(meta)
            return keyid_of(key)

    def rotate_root_key(self, now: datetime | None = None) -> str:
        """Replace the root; the statement is signed by the old root and the new key.

        The statement carries the new root's `expires_at` (`root_lifetime`): a
        screener refuses a root past it, so a root key that is lost or stolen
        after its lifetime can no longer sign what screeners trust.
        """
        with self._locked():
            now = now or utcnow()
            meta = self._load_meta()
            old_entry = self._current_root(meta)
            old = self._read_key(old_entry["file"])
            number = old_entry["n"] + 1
            name = f"root-{number}.pem"
            new = self._write_key(name)
            entry = {**self._key_entry(new, name, number, now),
                     "expires_at": format_time(now + self.root_lifetime)}
            statement = {
                "type": "root",
                "version": number,
                "keyid": entry["keyid"],
                "public_key": entry["public_key"],
                "issued_at": format_time(now),
                "expires_at": entry["expires_at"],
            }
            meta["root_chain"].append(sign_envelope(statement, old, new))
            meta["roots"].append(entry)
            meta["keyset_version"] += 1
            self._save_meta(meta)
            return entry["keyid"]

    def _root_expires_at(self, now: datetime) -> str:
        """The current root's expiry, fixed once: keystores from before root expiries
        (no `expires_at` on the entry) get `now + root_lifetime`, stored under the
        lock so every worker and every later document states the same instant."""
        meta = self._load_meta()
        entry = self._current_root(meta)
        if entry.get("expires_at"):
            return str(entry["expires_at"])
        with self._locked():
            meta = self._load_meta()
            entry = self._current_root(meta)
            if not entry.get("expires_at"):
                chained = [s["signed"] for s in meta["root_chain"]
                           if s["signed"].get("version") == entry["n"]]
                entry["expires_at"] = (chained[-1].get("expires_at") if chained else None) \
                    or format_time(now + self.root_lifetime)
                self._save_meta(meta)
            return str(entry["expires_at"])

    def root_expires_at(self, now: datetime | None = None) -> datetime:
        """When the current root stops being trusted (the operator rotates before)."""
        return parse_time(self._root_expires_at(now or utcnow()))

    def root_metadata(self, now: datetime | None = None) -> dict[str, Any]:
        """The current root's own statement, signed by itself: what an operator hands
        screeners to pin (`lianfang-hub root-key --metadata`), so even a screener that
        never reaches this hub again knows when its pinned root expires."""
        now = now or utcnow()
        expires_at = self._root_expires_at(now)
        meta = self._load_meta()
        entry = self._current_root(meta)
        statement = {
            "type": "root",
            "version": entry["n"],
            "keyid": entry["keyid"],
            "public_key": entry["public_key"],
            "issued_at": entry["created_at"],
            "expires_at": expires_at,
        }
        return sign_envelope(statement, self._read_key(entry["file"]))

    # ---------------------------------------------------------------- signing

    def keyset_envelope(self, now: datetime, expires_in: timedelta) -> dict[str, Any]:
        """keys.json signed by the current root; feed keys past their overlap are dropped."""
        meta = self._load_meta()
        if any(k["retire_at"] and parse_time(k["retire_at"]) <= now for k in meta["feed_keys"]):
            with self._locked():
                meta = self._load_meta()
                if self._prune(meta, now):
                    self._save_meta(meta)
        expires_at = now + expires_in
        root_expires_at = self._root_expires_at(now)
        feed_keys = []
        for entry in meta["feed_keys"]:
            until = expires_at if entry["retire_at"] is None else parse_time(entry["retire_at"])
            feed_keys.append({
                "keyid": entry["keyid"],
                "public_key": entry["public_key"],
                "expires_at": format_time(until),
            })
        root_entry = self._current_root(meta)
        signed = {
            "type": "keyset",
            "version": meta["keyset_version"],
            "issued_at": format_time(now),
            "expires_at": format_time(expires_at),
            "root_keyid": root_entry["keyid"],
            "root_expires_at": root_expires_at,
            "feed_keys": feed_keys,
            "min_poll_interval_s": self.min_poll_interval_s,
        }
        return sign_envelope(signed, self._read_key(root_entry["file"]))

    def roots_document(self) -> list[dict[str, Any]]:
        """roots.json: the rotation statements, oldest first (root v1 has none)."""
        return list(self._load_meta()["root_chain"])

    def sign_manifest(self, signed: dict[str, Any]) -> dict[str, Any]:
        """Sign with the newest feed key (older ones only verify what they signed)."""
        entry = self._current_feed(self._load_meta())
        return sign_envelope(signed, self._read_key(entry["file"]))
