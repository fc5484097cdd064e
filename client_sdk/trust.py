"""The SDK's pure trust core: bytes + trusted state -> new trusted state, or an error.

Like python-tuf's `TrustedMetadataSet`, nothing here touches the network, the
disk or the clock: the caller passes the bytes it fetched and `now`. That keeps
every defence testable with crafted inputs, and it means a refused document can
never have changed anything -- a function either returns a new value or raises
a specific `client_sdk.errors.SyncError` subclass, and the caller keeps what it
had.

Order of checks (docs/ARCHITECTURE.md §6): root-signed keyset, manifest signature by a
current feed key, feed name, rollback, freeze, hash chain, size limits before
download, artifact SHA-256, and the set digest after applying.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client_sdk.errors import (
    ArtifactFormatError,
    ArtifactHashError,
    ArtifactTooLargeError,
    AuditCheckpointError,
    AuditRewriteError,
    ConsortiumKeyError,
    DocumentTooLargeError,
    DuplicateSignatureError,
    FreezeError,
    HashChainError,
    KeysetExpiredError,
    KeysetRollbackError,
    KeysetSignatureError,
    ManifestFormatError,
    ManifestSignatureError,
    RollbackError,
    RootChainError,
    RootExpiredError,
    SetDigestError,
    TooManySignaturesError,
    WrongFeedError,
)
from client_sdk.keyset import KeySet
from schemas import artifact as codec
from schemas import envelope as env
from schemas.envelope import EnvelopeError, public_key_raw, verified_signers
from schemas.keys import ED25519_PUBLIC_KEY_LEN, b64decode, key_id
from schemas.manifest import SUPPORTED_FORMATS, chain_digest, record_set_digest
from schemas.timefmt import parse_time

MAX_DOCUMENT_BYTES = 1024 * 1024
"""Largest roots.json, keys.json or manifest the trust core parses.

Real documents are a few KiB (a manifest lists at most a few hundred deltas);
a hostile mirror's padded document is refused on its length alone.
"""

_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
AUDIT_CHECKPOINT_TYPE = "audit-checkpoint"
AUDIT_CHECKPOINT_FORMAT = 1
AUDIT_GENESIS_HASH = "0" * 64
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class TrustedRoot:
    """The root key the SDK trusts: pinned (version 1) or reached by a rotation chain."""

    version: int
    keyid: str
    public_key: Ed25519PublicKey
    expires_at: datetime | None = None  # None: no signed statement of its expiry seen yet

    def expiring_by(self, when: datetime | None) -> TrustedRoot:
        """This root with the earlier of its known expiry and `when`.

        Expiries only ever move earlier for one root: whoever holds a root's key
        (stolen, or rotated away) could sign a later one, or omit it, so the
        first expiry learned -- from the pinned metadata, the rotation statement
        or a keyset -- stays the bound. Only a rotation to a new root moves on.
        """
        if when is None or (self.expires_at is not None and self.expires_at <= when):
            return self
        return replace(self, expires_at=when)


@dataclass(frozen=True)
class TrustedKeyset:
    """A verified keys.json: which feed keys may sign manifests, and until when."""

    version: int
    expires_at: datetime
    feed_keys: Mapping[str, tuple[Ed25519PublicKey, datetime]]
    min_poll_interval_s: int
    issued_at: datetime | None = None
    root_expires_at: datetime | None = None  # the signing root's expiry, as it states it


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact a plan needs: where it is and what its bytes must be."""

    kind: str  # "snapshot" or "delta"
    from_version: int
    to_version: int
    path: str
    sha256: str
    size: int


# --------------------------------------------------------------------- helpers


def _load_json(data: bytes, error: type[Exception]) -> Any:
    """Parse fetched bytes; anything unparseable becomes the caller's specific `error`.

    ValueError covers bad syntax, invalid UTF-8 (UnicodeDecodeError) and
    over-long integers; the C decoder raises RecursionError for absurd nesting.
    NaN/Infinity parse to floats here and are refused later by the envelope.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(f"{len(data)} bytes, limit {MAX_DOCUMENT_BYTES}")
    try:
        return json.loads(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise error(f"not valid JSON: {type(exc).__name__}: {str(exc)[:120]}") from exc


def _public_key(b64: Any, error: type[Exception]) -> Ed25519PublicKey:
    if not isinstance(b64, str):
        raise error("public key must be a base64 string")
    try:
        return Ed25519PublicKey.from_public_bytes(b64decode(b64, length=ED25519_PUBLIC_KEY_LEN))
    except ValueError as exc:
        raise error(f"bad public key: {exc}") from exc


def _time(value: Any, field: str, error: type[Exception]) -> datetime:
    try:
        return parse_time(value)
    except (ValueError, TypeError) as exc:
        raise error(f"{field}: {exc}") from exc


def _int(value: Any, field: str, error: type[Exception], minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(f"{field} must be an integer >= {minimum}")
    return value


def _signers(envelope: Any, trusted: Mapping[str, Ed25519PublicKey], error: type[Exception]
             ) -> set[str]:
    """Verified signer ids; padding and duplicates get their own codes, the rest `error`."""
    try:
        return verified_signers(envelope, trusted)
    except env.TooManySignaturesError as exc:
        raise TooManySignaturesError(str(exc)) from exc
    except env.DuplicateSignatureError as exc:
        raise DuplicateSignatureError(str(exc)) from exc
    except EnvelopeError as exc:
        raise error(str(exc)) from exc


# ----------------------------------------------------------------------- roots


def load_root_key(text_or_key: str | Ed25519PublicKey) -> TrustedRoot:
    """The pinned root from `lianfang-hub root-key` output or a key object.

    The bare base64 key pins version 1 with no expiry known until the hub states
    one (in keys.json, signed by that root). `lianfang-hub root-key --metadata`
    output -- the root's statement signed by itself -- also pins its version and
    its `expires_at`, so a screener that never reaches the real hub again still
    stops trusting the root (`root_expired`) when it expires.
    """
    if isinstance(text_or_key, Ed25519PublicKey):
        key = text_or_key
    else:
        text = str(text_or_key).strip()
        if text.startswith("{"):
            return _pinned_metadata(text.encode("utf-8"))
        key = _public_key(text, RootChainError)
    return TrustedRoot(version=1, keyid=key_id(public_key_raw(key)), public_key=key)


def _pinned_metadata(data: bytes) -> TrustedRoot:
    """A self-signed root statement given as the pin (refused unless its key signed it)."""
    envelope = _load_json(data, RootChainError)
    signed = envelope.get("signed") if isinstance(envelope, dict) else None
    if not isinstance(signed, dict) or signed.get("type") != "root":
        raise RootChainError("pinned root metadata must be a signed root statement")
    key = _public_key(signed.get("public_key"), RootChainError)
    keyid = key_id(public_key_raw(key))
    if signed.get("keyid") != keyid or keyid not in _signers(envelope, {keyid: key},
                                                               RootChainError):
        raise RootChainError("pinned root metadata is not signed by its own key")
    version = _int(signed.get("version"), "root version", RootChainError, minimum=1)
    if "expires_at" not in signed:
        raise RootChainError("pinned root metadata has no expires_at")
    return TrustedRoot(version=version, keyid=keyid, public_key=key,
                       expires_at=_root_expiry(signed))


def update_root(trusted: TrustedRoot, roots_doc: bytes) -> TrustedRoot:
    """Walk the rotation chain from `trusted`; every step is signed by old and new key.

    Entries below the trusted version are skipped (they cannot be checked
    against a key we hold and change nothing); the trusted version's own
    statement, when signed by its key, can only bring its expiry forward
    (`TrustedRoot.expiring_by`). Any gap, bad signature or malformed entry above it
    refuses the whole document. Freshness is `check_root_fresh`'s job.
    """
    doc = _load_json(roots_doc, RootChainError)
    if isinstance(doc, dict) and "roots" in doc:
        doc = doc["roots"]
    if not isinstance(doc, list):
        raise RootChainError("roots.json must be a list of root statements")
    current = trusted
    for entry in doc:
        signed = entry.get("signed") if isinstance(entry, dict) else None
        if not isinstance(signed, dict):
            raise RootChainError("each root statement must be a signed envelope")
        version = _int(signed.get("version"), "root version", RootChainError, minimum=1)
        if version == current.version:
            if signed.get("keyid") == current.keyid and current.keyid in _signers(
                entry, {current.keyid: current.public_key}, RootChainError
            ):
                current = current.expiring_by(_root_expiry(signed))
            continue
        if version < current.version:
            continue
        if version != current.version + 1:
            raise RootChainError(f"root chain jumps from {current.version} to {version}")
        if signed.get("type") != "root":
            raise RootChainError("root statement has the wrong type")
        new_key = _public_key(signed.get("public_key"), RootChainError)
        new_keyid = key_id(public_key_raw(new_key))
        claimed = signed.get("keyid")
        # compare_digest raises TypeError on non-ASCII str, so compare encoded bytes
        if not isinstance(claimed, str) or not hmac.compare_digest(
            claimed.encode("utf-8", "surrogatepass"), new_keyid.encode("ascii")
        ):
            raise RootChainError("root statement's keyid does not match its public key")
        good = _signers(
            entry, {current.keyid: current.public_key, new_keyid: new_key}, RootChainError
        )
        if current.keyid not in good or new_keyid not in good:
            raise RootChainError(f"root v{version} must be signed by root v{current.version} "
                                 "and by the new key")
        current = TrustedRoot(version=version, keyid=new_keyid, public_key=new_key,
                              expires_at=_root_expiry(signed))
    return current


def _root_expiry(signed: Mapping[str, Any]) -> datetime | None:
    """A root statement's `expires_at`; statements from before expiries carry none."""
    if "expires_at" not in signed:
        return None
    return _time(signed["expires_at"], "root expires_at", RootChainError)


def check_root_fresh(root: TrustedRoot, now: datetime, slack_s: int) -> None:
    """Refuse a root past its expiry: nothing it signs is trusted any more."""
    if root.expires_at is not None and now > root.expires_at + timedelta(seconds=slack_s):
        raise RootExpiredError(
            f"root v{root.version} expired at {root.expires_at.isoformat()}; "
            "the hub must rotate its root"
        )


# ---------------------------------------------------------------------- keyset


def verify_keyset(
    root: TrustedRoot,
    data: bytes,
    now: datetime,
    previous: TrustedKeyset | None,
    slack_s: int,
    *,
    allow_expired: bool = False,
) -> TrustedKeyset:
    """Trust keys.json if the root signed it, it is fresh and not older than `previous`.

    `allow_expired` is only for reloading our own stored copy, where the point is
    the version floor (rollback protection), not freshness.
    """
    envelope = _load_json(data, KeysetSignatureError)
    if root.keyid not in _signers(envelope, {root.keyid: root.public_key}, KeysetSignatureError):
        raise KeysetSignatureError("keys.json is not signed by the trusted root key")
    signed = envelope["signed"]
    if signed.get("type") != "keyset":
        raise KeysetSignatureError("keys.json has the wrong type")
    version = _int(signed.get("version"), "keyset version", KeysetSignatureError, minimum=1)
    expires_at = _time(signed.get("expires_at"), "expires_at", KeysetSignatureError)
    issued_at = (
        _time(signed["issued_at"], "issued_at", KeysetSignatureError)
        if "issued_at" in signed else None
    )
    poll = _int(signed.get("min_poll_interval_s", 0), "min_poll_interval_s", KeysetSignatureError)
    root_expires_at = (
        _time(signed["root_expires_at"], "root_expires_at", KeysetSignatureError)
        if "root_expires_at" in signed else None
    )
    raw_keys = signed.get("feed_keys")
    if not isinstance(raw_keys, list):
        raise KeysetSignatureError("feed_keys must be a list")
    feed_keys: dict[str, tuple[Ed25519PublicKey, datetime]] = {}
    for item in raw_keys:
        if not isinstance(item, dict):
            raise KeysetSignatureError("each feed key must be an object")
        key = _public_key(item.get("public_key"), KeysetSignatureError)
        kid = key_id(public_key_raw(key))
        if item.get("keyid") != kid:
            raise KeysetSignatureError("feed key id does not match its public key")
        feed_keys[kid] = (key, _time(item.get("expires_at"), "feed key expires_at",
                                     KeysetSignatureError))
    if previous is not None and version < previous.version:
        raise KeysetRollbackError(f"keyset v{version} is older than trusted v{previous.version}")
    if not allow_expired and now > expires_at + timedelta(seconds=slack_s):
        raise KeysetExpiredError(f"keyset v{version} expired at {signed['expires_at']}")
    return TrustedKeyset(
        version=version,
        expires_at=expires_at,
        feed_keys=feed_keys,
        min_poll_interval_s=poll,
        issued_at=issued_at,
        root_expires_at=root_expires_at,
    )


# -------------------------------------------------------------------- manifest


def _check_manifest_shape(signed: Mapping[str, Any]) -> None:
    """Structural checks, so later steps can index the manifest without surprises."""
    err = ManifestFormatError
    _int(signed.get("version"), "version", err, minimum=1)
    _int(signed.get("entry_count"), "entry_count", err)
    _time(signed.get("issued_at"), "issued_at", err)
    _time(signed.get("expires_at"), "expires_at", err)
    if not isinstance(signed.get("set_digest"), str) or not _HEX64.match(signed["set_digest"]):
        raise err("set_digest must be 64 lowercase hex characters")
    prev = signed.get("prev_manifest_sha256")
    if prev is not None and (not isinstance(prev, str) or not _HEX64.match(prev)):
        raise err("prev_manifest_sha256 must be null or 64 hex characters")
    epochs = signed.get("key_epochs", [])
    if not isinstance(epochs, list):
        raise err("key_epochs must be a list")
    for item in epochs:
        if not isinstance(item, dict):
            raise err("each key epoch must be an object")
        _int(item.get("epoch"), "key epoch", err)
        if not isinstance(item.get("key_sha256"), str) or not _HEX64.match(item["key_sha256"]):
            raise err("key_sha256 must be 64 hex characters")
    snapshot = signed.get("snapshot")
    if not isinstance(snapshot, dict):
        raise err("snapshot must be an object")
    _ref_fields(snapshot, "snapshot")
    deltas = signed.get("deltas", [])
    if not isinstance(deltas, list):
        raise err("deltas must be a list")
    for delta in deltas:
        if not isinstance(delta, dict):
            raise err("each delta must be an object")
        _ref_fields(delta, "delta")


def _ref_fields(entry: Mapping[str, Any], kind: str) -> ArtifactRef:
    err = ManifestFormatError
    path = entry.get("path")
    if (
        not isinstance(path, str)
        or not _SAFE_PATH.match(path)
        or path.startswith("/")
        or ".." in path.split("/")
    ):
        raise err(f"{kind} path is not a safe relative path")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not _HEX64.match(sha):
        raise err(f"{kind} sha256 must be 64 lowercase hex characters")
    size = _int(entry.get("size"), f"{kind} size", err)
    if kind == "snapshot":
        to_version = _int(entry.get("version"), "snapshot version", err, minimum=1)
        from_version = 0
    else:
        from_version = _int(entry.get("from"), "delta from", err, minimum=1)
        to_version = _int(entry.get("to"), "delta to", err, minimum=1)
        if to_version != from_version + 1:
            raise err("a delta spans exactly one version")
    return ArtifactRef(kind, from_version, to_version, path, sha, size)


def verify_manifest(
    keyset: TrustedKeyset,
    data: bytes,
    feed: str,
    now: datetime,
    previous: Mapping[str, Any] | None,
    slack_s: int,
) -> dict[str, Any]:
    """Trust a manifest's `signed` part, or raise the error of the first failed check.

    `previous` is the `signed` of the manifest trusted so far (None on first use).
    """
    slack = timedelta(seconds=slack_s)
    current_keys = {
        kid: key for kid, (key, expires) in keyset.feed_keys.items() if now <= expires + slack
    }
    envelope = _load_json(data, ManifestSignatureError)
    if not _signers(envelope, current_keys, ManifestSignatureError):
        raise ManifestSignatureError("manifest is not signed by a current feed key")
    signed: dict[str, Any] = envelope["signed"]
    fmt = signed.get("format")
    if signed.get("type") != "manifest" or type(fmt) is not int or fmt not in SUPPORTED_FORMATS:
        raise ManifestFormatError("not a manifest of a supported format")
    if signed.get("feed") != feed:
        raise WrongFeedError(f"manifest is for feed {signed.get('feed')!r}, wanted {feed!r}")
    _check_manifest_shape(signed)
    version = signed["version"]
    issued_at = parse_time(signed["issued_at"])
    if previous is not None:
        prev_version = previous["version"]
        if version < prev_version:
            raise RollbackError(f"manifest v{version} is older than trusted v{prev_version}")
        if version == prev_version:
            if issued_at < parse_time(previous["issued_at"]):
                raise RollbackError(f"manifest v{version} replays an older signing")
            if chain_digest(signed) != chain_digest(previous):
                raise HashChainError(f"two different manifests claim version {version}")
    if now > parse_time(signed["expires_at"]) + slack:
        raise FreezeError(f"manifest v{version} expired at {signed['expires_at']}")
    if previous is not None and version == previous["version"] + 1:
        expected = chain_digest(previous)
        got = signed.get("prev_manifest_sha256") or ""
        if not hmac.compare_digest(got, expected):
            raise HashChainError(f"manifest v{version} does not chain to trusted v{version - 1}")
    return signed


# ------------------------------------------------------------------------ plan


def _delta_chain(manifest: Mapping[str, Any], start: int) -> list[ArtifactRef] | None:
    by_from = {}
    for entry in manifest.get("deltas", []):
        ref = _ref_fields(entry, "delta")
        by_from[ref.from_version] = ref
    chain: list[ArtifactRef] = []
    version = start
    while version < manifest["version"]:
        ref = by_from.get(version)
        if ref is None:
            return None
        chain.append(ref)
        version = ref.to_version
    return chain


def _bytes(refs: Sequence[ArtifactRef]) -> int:
    return sum(ref.size for ref in refs)


def plan_update(
    manifest: Mapping[str, Any], current_version: int | None, max_artifact_bytes: int
) -> list[ArtifactRef]:
    """The artifacts to fetch to reach `manifest["version"]`, size-checked before download.

    Deltas from the current version when the manifest lists an unbroken chain from
    it -- also from before the snapshot, since the hub keeps a window of deltas
    across snapshot cuts -- unless that chain is larger than the snapshot plus
    its deltas; otherwise the snapshot plus its deltas. `current_version` None
    means "no usable local data". Either way the rebuilt set is checked against
    the signed `set_digest`, so which path is taken is a matter of bytes only.
    """
    target = manifest["version"]
    if current_version is not None and current_version > target:
        raise RollbackError(f"local data v{current_version} is newer than manifest v{target}")
    if current_version == target:
        return []
    snapshot = _ref_fields(manifest["snapshot"], "snapshot")
    if snapshot.to_version > target:
        raise ManifestFormatError("snapshot is newer than the manifest")
    rest = _delta_chain(manifest, snapshot.to_version)
    if rest is None:
        raise ManifestFormatError(
            f"deltas do not lead from snapshot v{snapshot.to_version} to v{target}"
        )
    plan = [snapshot, *rest]
    if current_version is not None:
        chain = _delta_chain(manifest, current_version)
        if chain is not None and (current_version >= snapshot.to_version or _bytes(chain)
                                  <= _bytes(plan)):
            plan = chain
    for ref in plan:
        if ref.size > max_artifact_bytes:
            raise ArtifactTooLargeError(
                f"{ref.kind} {ref.path} is {ref.size} bytes, limit {max_artifact_bytes}"
            )
    return plan


def check_artifact(ref: ArtifactRef, data: bytes) -> None:
    """The bytes are exactly the artifact the signed manifest named."""
    if len(data) > ref.size:
        raise ArtifactTooLargeError(f"{ref.path}: {len(data)} bytes, manifest says {ref.size}")
    if len(data) != ref.size:
        raise ArtifactHashError(f"{ref.path}: {len(data)} bytes, manifest says {ref.size}")
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), ref.sha256):
        raise ArtifactHashError(f"{ref.path}: SHA-256 does not match the manifest")


# ----------------------------------------------------------------------- apply


def _decode_chain(
    artifacts: Sequence[bytes], current_version: int | None, manifest: Mapping[str, Any],
    expected: type,
) -> tuple[list[Any], int | None]:
    """Decode artifacts and check they chain from the current (or snapshot) version."""
    decoded = []
    version = current_version
    for i, data in enumerate(artifacts):
        try:
            art = codec.decode_artifact(data)
        except (codec.ArtifactError, ValueError) as exc:
            raise ArtifactFormatError(f"artifact {i} does not decode: {exc}") from exc
        if not isinstance(art, expected):
            raise ArtifactFormatError(f"artifact {i} holds the wrong kind of entries")
        if art.type == codec.SNAPSHOT:
            if i != 0 or art.from_version != 0:
                raise ArtifactFormatError("a snapshot may only start a chain")
        elif art.type == codec.DELTA:
            if version is None or art.from_version != version or art.to_version != version + 1:
                raise ArtifactFormatError(
                    f"delta {art.from_version}->{art.to_version} does not follow v{version}"
                )
        else:
            raise ArtifactFormatError(f"artifact {i} has unknown type {art.type}")
        version = art.to_version
        decoded.append(art)
    if decoded and version != manifest["version"]:
        raise ArtifactFormatError(
            f"artifacts end at v{version}, manifest is v{manifest['version']}"
        )
    return decoded, version


def apply_key_artifacts(
    current: np.ndarray | KeySet | None,
    current_version: int | None,
    artifacts: Sequence[bytes],
    manifest: Mapping[str, Any],
) -> KeySet:
    """Rebuild a phone feed's keys and prove they equal the signed set.

    From a `KeySet` the deltas go into its overlay and only the digest buckets
    they touch are rehashed (format 2), so the cost follows the changes; a
    snapshot starts a new set whose digest is computed in full.
    """
    decoded, _ = _decode_chain(artifacts, current_version if current is not None else None,
                               manifest, codec.KeyArtifact)
    keys = current if current is None or isinstance(current, KeySet) else KeySet.of(current)
    for art in decoded:
        if art.type == codec.SNAPSHOT:
            keys = KeySet.of(art.keys)
        else:
            assert keys is not None
            try:
                keys = keys.apply(art.keys, art.removes)
            except (codec.ArtifactError, ValueError) as exc:
                raise ArtifactFormatError(f"delta does not apply: {exc}") from exc
    if keys is None:
        raise ArtifactFormatError("no data: the plan started from nothing without a snapshot")
    if len(keys) != manifest["entry_count"] or not hmac.compare_digest(
        keys.digest(manifest["format"]), manifest["set_digest"]
    ):
        raise SetDigestError(f"rebuilt set does not match v{manifest['version']}'s set_digest")
    return keys


def apply_record_artifacts(
    current: Sequence[Mapping[str, Any]] | None,
    current_version: int | None,
    artifacts: Sequence[bytes],
    manifest: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Rebuild the complaint-groups records and prove they equal the signed set."""
    decoded, _ = _decode_chain(artifacts, current_version if current is not None else None,
                               manifest, codec.RecordArtifact)
    records = [dict(r) for r in current] if current is not None else None
    for art in decoded:
        if art.type == codec.SNAPSHOT:
            records = list(art.records)
        else:
            assert records is not None
            try:
                records = codec.apply_record_delta(records, art.records, art.removed_ids)
            except (codec.ArtifactError, ValueError, KeyError) as exc:
                raise ArtifactFormatError(f"delta does not apply: {exc}") from exc
    if records is None:
        raise ArtifactFormatError("no data: the plan started from nothing without a snapshot")
    try:
        digest = record_set_digest(records)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactFormatError(f"records are malformed: {exc}") from exc
    if len(records) != manifest["entry_count"] or not hmac.compare_digest(
        digest, manifest["set_digest"]
    ):
        raise SetDigestError(f"rebuilt records do not match v{manifest['version']}'s set_digest")
    return sorted(records, key=lambda r: r["group_id"])


# ------------------------------------------------------------ consortium keys


def manifest_epochs(manifest: Mapping[str, Any]) -> dict[int, str]:
    """epoch -> key_sha256 announced by a trusted manifest."""
    return {int(e["epoch"]): e["key_sha256"] for e in manifest.get("key_epochs", [])}


def check_consortium_keys(manifest: Mapping[str, Any], keys: Mapping[int, bytes]) -> None:
    """Every epoch the manifest lists has a key whose SHA-256 the manifest signed.

    The consortium-key endpoint is only TLS-protected; this binds what it handed
    out to the signed feed, so a swapped key cannot make a screener hash every
    caller to a value that never matches.
    """
    for epoch, expected in manifest_epochs(manifest).items():
        key = keys.get(epoch)
        if key is None:
            raise ConsortiumKeyError(f"no consortium key for epoch {epoch}")
        if not hmac.compare_digest(hashlib.sha256(key).hexdigest(), expected):
            raise ConsortiumKeyError(f"consortium key for epoch {epoch} does not match the feed")


# ------------------------------------------------------------ audit checkpoints


@dataclass(frozen=True)
class AuditCheckpoint:
    """A signed statement of the hub's audit head: row `seq` of the chain has `hash`."""

    seq: int
    hash: str
    issued_at: datetime


def verify_audit_checkpoint(
    keyset: TrustedKeyset, data: bytes, now: datetime, slack_s: int
) -> tuple[AuditCheckpoint, dict[str, Any]]:
    """Trust an audit checkpoint signed by a current feed key; (checkpoint, envelope).

    The envelope is returned so the caller can keep it: it is the hub's signed
    word, evidence against a later rewrite.
    """
    slack = timedelta(seconds=slack_s)
    current_keys = {
        kid: key for kid, (key, expires) in keyset.feed_keys.items() if now <= expires + slack
    }
    envelope = _load_json(data, AuditCheckpointError)
    if not _signers(envelope, current_keys, AuditCheckpointError):
        raise AuditCheckpointError("audit checkpoint is not signed by a current feed key")
    signed = envelope["signed"]
    if signed.get("type") != AUDIT_CHECKPOINT_TYPE or signed.get("format") != \
            AUDIT_CHECKPOINT_FORMAT:
        raise AuditCheckpointError("not an audit checkpoint of a supported format")
    seq = _int(signed.get("seq"), "seq", AuditCheckpointError)
    digest = signed.get("hash")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise AuditCheckpointError("hash must be 64 lowercase hex characters")
    if seq == 0 and digest != AUDIT_GENESIS_HASH:
        raise AuditCheckpointError("an empty chain's hash is the genesis hash")
    issued_at = _time(signed.get("issued_at"), "issued_at", AuditCheckpointError)
    return AuditCheckpoint(seq, digest, issued_at), envelope


def compare_audit_checkpoint(
    seen: Sequence[AuditCheckpoint], new: AuditCheckpoint
) -> AuditCheckpoint | None:
    """Check `new` against the checkpoints kept; the newest one it must extend, or None.

    Raises `AuditRewriteError` when a kept checkpoint has the same sequence
    number with another hash, or when the chain is now shorter than one kept.
    None means nothing to prove (first checkpoint, or the same head again).
    """
    latest: AuditCheckpoint | None = None
    for old in seen:
        if old.seq == new.seq and not hmac.compare_digest(old.hash, new.hash):
            raise AuditRewriteError(
                f"audit row {new.seq} was signed with hash {old.hash[:16]}… at "
                f"{old.issued_at.isoformat()} and now with {new.hash[:16]}…: the chain was "
                "rewritten"
            )
        if latest is None or old.seq > latest.seq:
            latest = old
    if latest is None or latest.seq == new.seq:
        return None
    if new.seq < latest.seq:
        raise AuditRewriteError(
            f"the audit chain now ends at row {new.seq}, but row {latest.seq} was signed at "
            f"{latest.issued_at.isoformat()}: rows were deleted"
        )
    return latest


def verify_audit_segment(
    start: AuditCheckpoint, end: AuditCheckpoint, rows: Iterable[Mapping[str, Any]]
) -> int:
    """The hash-only rows link `start` to `end`, or `AuditRewriteError`; returns rows read.

    `rows` are `{"seq", "prev_hash", "hash"}` from `start.seq` (or 1 when it is 0)
    to `end.seq`, oldest first, and may be a generator over pages. Row
    `start.seq` must still carry `start.hash`, each row must name the previous
    row's hash, and the last must be `end.hash`: a chain rewritten below `start`
    changes row `start.seq`'s hash, so it can never extend the kept checkpoint.
    """
    expected, prev = (start.seq, None) if start.seq > 0 else (1, AUDIT_GENESIS_HASH)
    count = 0
    for row in rows:
        if not isinstance(row, Mapping):
            raise AuditCheckpointError("each chain row must be an object")
        seq = _int(row.get("seq"), "seq", AuditCheckpointError)
        prev_hash, digest = row.get("prev_hash"), row.get("hash")
        if not all(isinstance(h, str) and _HEX64.match(h) for h in (prev_hash, digest)):
            raise AuditCheckpointError("chain row hashes must be 64 lowercase hex characters")
        if seq != expected:
            raise AuditRewriteError(f"the audit chain skips from row {expected - 1} to {seq}")
        if seq == start.seq and not hmac.compare_digest(str(digest), start.hash):
            raise AuditRewriteError(
                f"audit row {seq} now has hash {str(digest)[:16]}…, but was signed with "
                f"{start.hash[:16]}… at {start.issued_at.isoformat()}: the chain was rewritten"
            )
        if prev is not None and not hmac.compare_digest(str(prev_hash), prev):
            raise AuditRewriteError(f"audit row {seq} does not link to row {seq - 1}")
        prev, expected, count = str(digest), seq + 1, count + 1
        if seq == end.seq:
            break
    if expected != end.seq + 1 or prev is None:
        raise AuditRewriteError(
            f"the audit chain proof stops at row {expected - 1}, checkpoint is row {end.seq}"
        )
    if not hmac.compare_digest(prev, end.hash):
        raise AuditRewriteError(
            f"the audit chain from row {start.seq} does not lead to the signed head "
            f"(row {end.seq}): it does not extend the kept checkpoint"
        )
    return count
