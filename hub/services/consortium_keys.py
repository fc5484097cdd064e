"""The consortium-key keystore: HMAC keys per epoch (docs/ARCHITECTURE.md §2), encrypted at rest.

The bottom of `hub.services`: sealing and unsealing, the epochs' states, the
current and active keys. Rotation and retirement, which also touch the
allowlist and the feed journal, are orchestrated above in `key_rotation`.

Each epoch's 32-byte key is stored AES-GCM-encrypted under the master key in
`<data_dir>/keys/master.key` (32 random bytes, mode 0600, created at init), with
the epoch bound in as associated data so ciphertexts cannot be swapped between
epochs. When `LIANFANG_KEY_PASSPHRASE` is set the AES key is scrypt(passphrase,
salt=master file), so a stolen disk image without the passphrase is not enough.

Two keys per epoch (issue 14): the *phone* key, which reader tokens (every
call-screener device) receive, and the *identity* key for every other kind
(`schemas.indicators.IDENTITY_KINDS`), which only signed approved members
receive. A leaked screener then reveals the listed phone numbers by enumeration,
never ID numbers or e-mail addresses. Epochs from before the split have no
identity key of their own and use the phone key for both (`identity_key`).

States: `current` (one), `retiring` (accepted for reports, still in feeds),
`retired` (refused). Rotation: current → retiring, older retiring → retired.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.errors import ApiError
from hub.filemodes import private_dir
from hub.models.consortium import ConsortiumKey
from schemas.enums import EpochState
from schemas.keys import b64encode
from schemas.timefmt import format_time

KEY_BYTES = 32
MASTER_KEY_NAME = "master.key"


class MasterKeyError(RuntimeError):
    """The master key file is missing or malformed."""


def master_key_path(keys_dir: Path) -> Path:
    return keys_dir / MASTER_KEY_NAME


def ensure_master_key(keys_dir: Path) -> bool:
    """Create `master.key` (0600, directory 0700) unless it exists; True when created."""
    private_dir(keys_dir)
    os.chmod(keys_dir, 0o700)
    path = master_key_path(keys_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.urandom(KEY_BYTES))
        handle.flush()
        os.fsync(handle.fileno())
    return True


@functools.lru_cache(maxsize=8)
def _wrapping_key(path_text: str, passphrase: str | None, mtime_ns: int) -> bytes:
    raw = Path(path_text).read_bytes()
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(f"{path_text} must hold exactly {KEY_BYTES} bytes")
    if passphrase is None:
        return raw
    return Scrypt(salt=raw, length=KEY_BYTES, n=2**14, r=8, p=1).derive(passphrase.encode())


def wrapping_key(keys_dir: Path, passphrase: str | None) -> bytes:
    path = master_key_path(keys_dir)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise MasterKeyError(f"master key {path} is missing; run `lianfang-hub init`") from None
    return _wrapping_key(str(path), passphrase, mtime)


def epoch_aad(epoch: int) -> bytes:
    return f"lianfang-consortium-key:{epoch}".encode("ascii")


def identity_aad(epoch: int) -> bytes:
    """Distinct from `epoch_aad`, so an epoch's two ciphertexts cannot be swapped."""
    return f"lianfang-identity-key:{epoch}".encode("ascii")


PHONE_SCHEME = "hmac-sha256"
"""How phone values are hashed with an entry's `key` (docs/FORMATS.md).

A later oblivious-PRF tier replaces this scheme name and drops `key` from the
reader document, without changing the document's shape.
"""


def config_wrapping_key(cfg: HubConfig) -> bytes:
    """The wrapping key of `cfg`'s key store (`keys_dir`, `LIANFANG_KEY_PASSPHRASE`):
    what the web views and commands pass to the keystore functions below."""
    return wrapping_key(cfg.keys_dir, cfg.key_passphrase)


def seal(wrap: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-GCM under the wrapping key: `(nonce, ciphertext)`. The one at-rest cipher of
    the hub (consortium keys, admin-allowlisted official numbers); `aad` binds the
    ciphertext to its purpose so it cannot be swapped into another row."""
    nonce = os.urandom(12)
    return nonce, AESGCM(wrap).encrypt(nonce, plaintext, aad)


def unseal(wrap: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """The inverse of `seal` (raises `cryptography.exceptions.InvalidTag` on tampering)."""
    return AESGCM(wrap).decrypt(nonce, ciphertext, aad)


def _decrypt(row: ConsortiumKey, wrap: bytes) -> bytes:
    return unseal(wrap, row.nonce, row.ciphertext, epoch_aad(row.epoch))


def _decrypt_identity(row: ConsortiumKey, wrap: bytes) -> bytes:
    """The epoch's identity key; the phone key for epochs from before the split."""
    if row.identity_nonce is None or row.identity_ciphertext is None:
        return _decrypt(row, wrap)
    return unseal(wrap, row.identity_nonce, row.identity_ciphertext, identity_aad(row.epoch))


def epoch_states(session: Session) -> dict[int, str]:
    """`{epoch: state}` for every epoch (reports use it to accept or refuse `key_epoch`)."""
    return {
        row.epoch: row.state
        for row in session.execute(select(ConsortiumKey.epoch, ConsortiumKey.state))
    }


def current_key(session: Session, wrap: bytes) -> tuple[int, bytes]:
    """The current epoch and its raw 32-byte key (`wrap`: the store's wrapping key)."""
    row = session.scalars(
        select(ConsortiumKey).where(ConsortiumKey.state == EpochState.CURRENT.value)
    ).first()
    if row is None:
        raise ApiError(503, "no_consortium_key", "the hub has no consortium key yet; run init")
    return row.epoch, _decrypt(row, wrap)


def active_keys(session: Session, wrap: bytes) -> dict[int, bytes]:
    """Raw keys of every `current` and `retiring` epoch (feeds list these epochs)."""
    rows = session.scalars(
        select(ConsortiumKey).where(ConsortiumKey.state != EpochState.RETIRED.value)
    )
    return {row.epoch: _decrypt(row, wrap) for row in rows}


def key_document(
    session: Session, wrap: bytes, retire_after_s: int, *, identity: bool
) -> dict[str, Any]:
    """The `GET /v1/consortium-key` body (docs/FORMATS.md), newest epoch first; a
    retiring epoch announces `retires_at` = retiring + `retire_after_s`.

    `identity` is True only for a signed approved member: a reader token's
    document carries the phone key alone.
    """
    rows = list(
        session.scalars(
            select(ConsortiumKey)
            .where(ConsortiumKey.state != EpochState.RETIRED.value)
            .order_by(ConsortiumKey.epoch.desc())
        )
    )
    current = next((r.epoch for r in rows if r.state == EpochState.CURRENT.value), None)
    if current is None:
        raise ApiError(503, "no_consortium_key", "the hub has no consortium key yet; run init")
    keys: list[dict[str, Any]] = []
    for row in rows:
        entry: dict[str, Any] = {
            "epoch": row.epoch,
            "scheme": PHONE_SCHEME,
            "key": b64encode(_decrypt(row, wrap)),
            "state": row.state,
            "created_at": format_time(row.created_at),
        }
        if identity:
            entry["identity_key"] = b64encode(_decrypt_identity(row, wrap))
        if row.state == EpochState.RETIRING.value and row.retiring_at is not None:
            entry["retires_at"] = format_time(row.retiring_at + timedelta(seconds=retire_after_s))
        keys.append(entry)
    return {"current_epoch": current, "audience": "member" if identity else "reader",
            "keys": keys}
