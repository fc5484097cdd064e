"""One exception class per check the SDK refuses (docs/ARCHITECTURE.md §6).

Each class carries a short machine `code` so a sync result, a log line or a
monitoring system can tell *which* defence fired without parsing messages.
Every error means the same thing for the caller: the offered data was not
trusted and the last good data is still in use.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base class: the hub's offer was refused and nothing trusted changed."""

    code = "sync_error"


class KeysetSignatureError(SyncError):
    """keys.json is malformed or not signed by the trusted root key."""

    code = "keyset_signature"


class KeysetExpiredError(SyncError):
    """keys.json expired (beyond the clock-skew slack)."""

    code = "keyset_expired"


class KeysetRollbackError(SyncError):
    """keys.json is older than the keyset already trusted."""

    code = "keyset_rollback"


class RootChainError(SyncError):
    """roots.json does not form a valid rotation chain from the trusted root."""

    code = "root_chain"


class DocumentTooLargeError(SyncError):
    """A metadata document (roots.json, keys.json, a manifest) is over the size limit.

    Refused before it is parsed, so its size bounds the work a hostile mirror can cause.
    """

    code = "document_too_large"


class TooManySignaturesError(SyncError):
    """A signed document carries more signatures than the SDK looks at."""

    code = "too_many_signatures"


class DuplicateSignatureError(SyncError):
    """A signed document carries two signatures under the same key id."""

    code = "duplicate_signature"


class RootExpiredError(SyncError):
    """The newest trusted root is past its `expires_at` (beyond the clock-skew slack)."""

    code = "root_expired"


class ManifestSignatureError(SyncError):
    """No current, non-expired feed key signed the manifest."""

    code = "manifest_signature"


class ManifestFormatError(SyncError):
    """The manifest is signed but not a well-formed manifest of a known format."""

    code = "manifest_format"


class WrongFeedError(SyncError):
    """The manifest names another feed (a valid manifest served at the wrong path)."""

    code = "wrong_feed"


class RollbackError(SyncError):
    """The manifest is older than the trusted one (or a replay of an older signing)."""

    code = "rollback"


class FreezeError(SyncError):
    """The manifest expired: the hub (or an attacker) stopped publishing fresh data."""

    code = "freeze"


class ArtifactTooLargeError(SyncError):
    """An artifact is larger than the configured limit or than its manifest entry."""

    code = "artifact_too_large"


class ArtifactHashError(SyncError):
    """An artifact's bytes do not match the size and SHA-256 in the manifest."""

    code = "artifact_hash"


class ArtifactFormatError(SyncError):
    """An artifact does not decode, is of the wrong kind, or its versions do not chain."""

    code = "artifact_format"


class SetDigestError(SyncError):
    """The set rebuilt from artifacts differs from the manifest's set_digest/entry_count."""

    code = "set_digest"


class HashChainError(SyncError):
    """prev_manifest_sha256 does not link to the trusted previous version."""

    code = "hash_chain"


class ConsortiumKeyError(SyncError):
    """The consortium key handed out does not match the manifest's key_sha256."""

    code = "consortium_key"


class AuditCheckpointError(SyncError):
    """An audit checkpoint or chain proof is malformed or not signed by a current feed key."""

    code = "audit_checkpoint"


class AuditRewriteError(SyncError):
    """The hub's audit chain contradicts a signed checkpoint this client kept.

    Either the same sequence number now has another hash, the chain is shorter
    than a checkpoint already seen, or the rows between the last kept
    checkpoint and the new one do not link: the record was rewritten after this
    client saw it (docs/THREAT_MODEL.md, "The operator").
    """

    code = "audit_rewrite"


class StoreError(SyncError):
    """The local state directory could not be written (disk full, permissions)."""

    code = "store_io"


class FetchError(SyncError):
    """Network or HTTP failure; carries the HTTP status when there was one."""

    code = "fetch"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
