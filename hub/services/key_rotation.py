"""Consortium-key rotation and retirement: the top of `hub.services`.

A new epoch or a retired one is not only a keystore change: in the same
transaction every official allowlisted number is hashed under the new key
(`allowlist.allow_epoch`) and a retired epoch's reports and entries stop counting
(`retire_epoch`, a re-merge of the indicators they touched).
Orchestrating it here keeps the keystore,
the allowlist and the listings free of imports pointing upward.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.config import HubConfig
from hub.models.allowlist import AllowlistEntry
from hub.models.consortium import ConsortiumKey
from hub.models.member import Member
from hub.models.report import Report
from hub.services import audit
from hub.services.allowlist import allow_epoch
from hub.services.consortium_keys import (
    KEY_BYTES,
    epoch_aad,
    identity_aad,
    seal,
    wrapping_key,
)
from hub.services.membership import transition
from hub.services.merge import MergePolicy
from hub.services.oprf_keys import create_oprf_key
from hub.services.remerge import recompute
from schemas.enums import EpochState
from schemas.timefmt import utcnow


def create_epoch(
    session: Session,
    keys_dir: Path,
    passphrase: str | None,
    actor: str = "system",
    *,
    policy: MergePolicy,
) -> int:
    """Generate the next epoch's key as `current`, demoting older epochs; the official
    allowlisted numbers are hashed under it and re-merged under `policy`."""
    wrap = wrapping_key(keys_dir, passphrase)
    now = utcnow()
    latest = session.scalar(select(func.max(ConsortiumKey.epoch)))
    epoch = (latest or 0) + 1
    retired: list[int] = []
    live = select(ConsortiumKey).where(ConsortiumKey.state != EpochState.RETIRED.value)
    for row in session.scalars(live):
        if row.state == EpochState.CURRENT.value:
            row.state, row.retiring_at = EpochState.RETIRING.value, now
        elif row.state == EpochState.RETIRING.value:
            row.state, row.retired_at = EpochState.RETIRED.value, now
            retired.append(row.epoch)
    raw_key = os.urandom(KEY_BYTES)
    nonce, ciphertext = seal(wrap, raw_key, epoch_aad(epoch))
    identity_nonce, identity_ciphertext = seal(wrap, os.urandom(KEY_BYTES),
                                               identity_aad(epoch))
    session.add(
        ConsortiumKey(
            epoch=epoch, nonce=nonce, ciphertext=ciphertext, identity_nonce=identity_nonce,
            identity_ciphertext=identity_ciphertext, state=EpochState.CURRENT.value,
            created_at=now,
        )
    )
    session.flush()
    create_oprf_key(session, wrap, epoch)  # issue 20: every epoch has an OPRF key too
    _epochs_changed(session, retired, now, policy=policy)
    allow_epoch(session, epoch, raw_key, wrap, now, policy=policy)
    audit.record(session, actor, "consortium_key.rotate", f"epoch:{epoch}", {"epoch": epoch})
    return epoch


def _epochs_changed(
    session: Session, retired: list[int], now: datetime, *, policy: MergePolicy
) -> None:
    """What must follow retiring epochs, in the same transaction: their contributions
    stop counting (`retire_epoch`, run after the state is stored, since the re-merge
    reads the epoch states from the database)."""
    for epoch in retired:
        retire_epoch(session, epoch, policy=policy)


def retire_due(
    session: Session, now: datetime, *, retire_after_s: int, policy: MergePolicy
) -> list[int]:
    """Retire every `retiring` epoch whose `retires_at` (retiring + `retire_after_s`,
    `LIANFANG_CONSORTIUM_RETIRE_AFTER_S`) has passed; returns their numbers.

    Rotation only retires the epoch before the previous one, so without this a
    retiring epoch would stay in the feeds (and usable for reports) until the
    next rotation, however late. The feed builder runs it before each build.
    """
    cutoff = now - timedelta(seconds=retire_after_s)
    rows = list(
        session.scalars(
            select(ConsortiumKey)
            .where(
                ConsortiumKey.state == EpochState.RETIRING.value,
                ConsortiumKey.retiring_at <= cutoff,
            )
            .order_by(ConsortiumKey.epoch)
            .with_for_update()
        )
    )
    for row in rows:
        row.state, row.retired_at = EpochState.RETIRED.value, now
    if not rows:
        return []
    session.flush()
    epochs = [row.epoch for row in rows]
    _epochs_changed(session, epochs, now, policy=policy)
    for epoch in epochs:
        audit.record(session, "system", "consortium_key.retire", f"epoch:{epoch}", {"epoch": epoch})
    return epochs


def ensure_first_epoch(
    session: Session, keys_dir: Path, passphrase: str | None, *, policy: MergePolicy
) -> bool:
    """Create epoch 1 unless any epoch exists; True when created."""
    if session.scalar(select(func.count()).select_from(ConsortiumKey)):
        return False
    create_epoch(session, keys_dir, passphrase, actor="system:init", policy=policy)
    return True


def rotate(session: Session, cfg: HubConfig, actor: str = "cli") -> int:
    """Start a new epoch in `cfg`'s key store (re-merging under `cfg.policy`); returns
    its number."""
    return create_epoch(session, cfg.keys_dir, cfg.key_passphrase, actor=actor, policy=cfg.policy)


def revoke_member(
    session: Session, cfg: HubConfig, member_id: str, actor: str, reason: str | None,
    *, rotate_keys: bool,
) -> tuple[Member, int | None]:
    """Revoke a member and, when asked, start a new consortium-key epoch in the same
    transaction; returns the member and the new epoch (None without rotation).

    A revoked member keeps the keys of every epoch it received: rotating is the
    only way to stop it reading indicators hashed from now on. The rotation is
    audited twice: `consortium_key.rotate` as every rotation, and
    `member.revoke_rotation` naming the revoked member it answers.
    """
    member = transition(session, member_id, "revoke", actor, reason,
                        case_max_group_joins=cfg.case_max_group_joins)
    if not rotate_keys:
        return member, None
    epoch = rotate(session, cfg, actor=actor)
    audit.record(session, actor, "member.revoke_rotation", member.id, {"epoch": epoch})
    return member, epoch


def retire_epoch(session: Session, epoch: int, *, policy: MergePolicy) -> int:
    """Re-merge every indicator with a report or admin allowlist entry made under `epoch`;
    returns how many listings changed.

    Called when the epoch becomes retired: those contributions stop counting
    (`remerge` skips a retired epoch's reports and entries), so an indicator
    leaves its phone feed exactly when nothing made under a live epoch keeps it
    there. The epoch is each report's own label, never the indicator's: a member
    that mislabels new-epoch hashes as the old epoch loses only its own reports.
    """
    now = utcnow()
    reported = select(Report.indicator_id).where(Report.key_epoch == epoch)
    allowed = select(AllowlistEntry.indicator_id).where(AllowlistEntry.key_epoch == epoch)
    ids = set(session.scalars(reported.distinct())) | set(session.scalars(allowed))
    return recompute(session, ids, now, policy=policy)
