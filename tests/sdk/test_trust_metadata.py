"""Pure trust core: root chain, keyset and manifest checks (the attack catalog, part 1).

Every attack test asserts the specific error class and that the previously
trusted state handed in is unchanged.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client_sdk import errors
from client_sdk.trust import (
    TrustedKeyset,
    TrustedRoot,
    load_root_key,
    update_root,
    verify_keyset,
    verify_manifest,
)
from schemas.envelope import keyid_of, sign_envelope
from schemas.manifest import chain_digest
from tests.sdk.feedfactory import FeedFactory, envelope_bytes, pub_b64

SLACK = 300
FEED = "phone-block"


def _root(factory: FeedFactory) -> TrustedRoot:
    return load_root_key(factory.root_public_b64)


def _keyset(factory: FeedFactory, now: datetime) -> TrustedKeyset:
    return verify_keyset(_root(factory), factory.keyset(), now, None, SLACK)


def _manifest_signed(factory: FeedFactory, version: int = 1, **changes: object) -> dict:
    base = {
        "type": "manifest", "format": 1, "feed": FEED, "version": version,
        "issued_at": "2026-11-20T11:00:00Z", "expires_at": "2026-11-22T11:00:00Z",
        "entry_count": 0, "set_digest": "0" * 64, "prev_manifest_sha256": None,
        "key_epochs": [], "snapshot": {"version": 1, "path": "artifacts/a.lfa",
                                       "sha256": "a" * 64, "size": 40},
        "deltas": [],
    }
    base.update(changes)
    return base


# ------------------------------------------------------------------ roots


def test_load_root_key_accepts_text_and_key(factory: FeedFactory) -> None:
    from_text = load_root_key("  " + factory.root_public_b64 + "\n")
    from_key = load_root_key(factory.root_key.public_key())
    assert from_text.keyid == from_key.keyid and from_text.version == 1


def test_load_root_key_rejects_garbage() -> None:
    with pytest.raises(errors.RootChainError):
        load_root_key("not-a-key")


def test_root_rotation_chain_accepted(factory: FeedFactory, now: datetime) -> None:
    pinned = _root(factory)
    factory.rotate_root()
    factory.rotate_root()
    new = update_root(pinned, factory.roots_json())
    assert new.version == 3 and new.keyid == load_root_key(factory.root_public_b64).keyid
    # a keyset signed by the new root is now trusted, one signed by the old one is not
    assert verify_keyset(new, factory.keyset(), now, None, SLACK).version == 1
    with pytest.raises(errors.KeysetSignatureError):
        verify_keyset(pinned, factory.keyset(), now, None, SLACK)
    # walking again from the newest root is a no-op
    assert update_root(new, factory.roots_json()) == new


def test_root_rotation_without_old_signature_rejected(factory: FeedFactory) -> None:
    pinned = _root(factory)
    attacker = Ed25519PrivateKey.generate()
    signed = {"type": "root", "version": 2, "keyid": "", "public_key": pub_b64(attacker),
              "issued_at": "2026-11-20T12:00:00Z"}
    signed["keyid"] = keyid_of(attacker)
    roots = json.dumps([sign_envelope(signed, attacker)]).encode()
    before = copy.copy(pinned)
    with pytest.raises(errors.RootChainError):
        update_root(pinned, roots)
    assert pinned == before


def test_root_rotation_without_new_key_signature_rejected(factory: FeedFactory) -> None:
    pinned = _root(factory)
    new = Ed25519PrivateKey.generate()
    signed = {"type": "root", "version": 2, "keyid": keyid_of(new), "public_key": pub_b64(new),
              "issued_at": "2026-11-20T12:00:00Z"}
    with pytest.raises(errors.RootChainError):
        update_root(pinned, json.dumps([sign_envelope(signed, factory.root_key)]).encode())


def test_root_chain_gap_rejected(factory: FeedFactory) -> None:
    pinned = _root(factory)
    factory.rotate_root()
    factory.rotate_root()
    with pytest.raises(errors.RootChainError):
        update_root(pinned, json.dumps(factory.roots[1:]).encode())


# ----------------------------------------------------------------- keyset


def test_keyset_accepted(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    assert ks.version == 1 and ks.min_poll_interval_s == 60
    assert len(ks.feed_keys) == 1


def test_keyset_bad_signature(factory: FeedFactory, now: datetime) -> None:
    data = bytearray(factory.keyset())
    data[data.index(b'"min_poll_interval_s":60') + 22] = ord("9")  # 60 -> 90, signature kept
    with pytest.raises(errors.KeysetSignatureError):
        verify_keyset(_root(factory), bytes(data), now, None, SLACK)


def test_keyset_signed_by_unknown_key(factory: FeedFactory, now: datetime) -> None:
    with pytest.raises(errors.KeysetSignatureError):
        verify_keyset(_root(factory), factory.keyset(signer=Ed25519PrivateKey.generate()),
                      now, None, SLACK)


def test_keyset_expired(factory: FeedFactory, now: datetime) -> None:
    previous = _keyset(factory, now)
    before = copy.copy(previous)
    data = factory.keyset(expires_in=timedelta(hours=1))
    later = now + timedelta(hours=1, seconds=SLACK + 1)
    with pytest.raises(errors.KeysetExpiredError):
        verify_keyset(_root(factory), data, later, previous, SLACK)
    assert previous == before
    # within the clock-skew slack it is still accepted
    assert verify_keyset(_root(factory), data, later - timedelta(seconds=2), previous, SLACK)


def test_keyset_rollback(factory: FeedFactory, now: datetime) -> None:
    old = factory.keyset()
    newer = verify_keyset(_root(factory), factory.keyset(), now, None, SLACK)
    before = copy.copy(newer)
    with pytest.raises(errors.KeysetRollbackError):
        verify_keyset(_root(factory), old, now, newer, SLACK)
    assert newer == before


# --------------------------------------------------------------- manifest


def test_manifest_accepted(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    signed = _manifest_signed(factory)
    got = verify_manifest(ks, envelope_bytes(signed, factory.feed_key), FEED, now, None, SLACK)
    assert got == signed


def test_manifest_bad_signature(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    data = envelope_bytes(_manifest_signed(factory), factory.feed_key)
    tampered = data.replace(b'"entry_count":0', b'"entry_count":7')
    assert tampered != data
    with pytest.raises(errors.ManifestSignatureError):
        verify_manifest(ks, tampered, FEED, now, None, SLACK)


def test_manifest_signed_by_unknown_key(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    data = envelope_bytes(_manifest_signed(factory), Ed25519PrivateKey.generate())
    with pytest.raises(errors.ManifestSignatureError):
        verify_manifest(ks, data, FEED, now, None, SLACK)


def test_manifest_signed_by_root_key_is_not_a_feed_key(factory: FeedFactory,
                                                       now: datetime) -> None:
    ks = _keyset(factory, now)
    with pytest.raises(errors.ManifestSignatureError):
        verify_manifest(ks, envelope_bytes(_manifest_signed(factory), factory.root_key),
                        FEED, now, None, SLACK)


def test_manifest_signed_by_expired_feed_key(factory: FeedFactory, now: datetime) -> None:
    ks = verify_keyset(
        _root(factory),
        factory.keyset(feed_keys=[(factory.feed_key, now - timedelta(seconds=SLACK + 1))]),
        now, None, SLACK,
    )
    with pytest.raises(errors.ManifestSignatureError):
        verify_manifest(ks, envelope_bytes(_manifest_signed(factory), factory.feed_key),
                        FEED, now, None, SLACK)


def test_manifest_of_another_feed(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    previous = _manifest_signed(factory)
    before = copy.deepcopy(previous)
    data = envelope_bytes(_manifest_signed(factory, 2, feed="phone-allow"), factory.feed_key)
    with pytest.raises(errors.WrongFeedError):
        verify_manifest(ks, data, FEED, now, previous, SLACK)
    assert previous == before


def test_manifest_rollback(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    previous = _manifest_signed(factory, 5)
    before = copy.deepcopy(previous)
    data = envelope_bytes(_manifest_signed(factory, 4), factory.feed_key)
    with pytest.raises(errors.RollbackError):
        verify_manifest(ks, data, FEED, now, previous, SLACK)
    assert previous == before


def test_manifest_replay_of_older_signing(factory: FeedFactory, now: datetime) -> None:
    """A refresh re-signs v5; the older, still-unexpired v5 signing must not come back."""
    ks = _keyset(factory, now)
    old = _manifest_signed(factory, 5, issued_at="2026-11-20T06:00:00Z")
    refreshed = _manifest_signed(factory, 5, issued_at="2026-11-20T11:30:00Z")
    trusted = verify_manifest(ks, envelope_bytes(refreshed, factory.feed_key), FEED, now,
                              old, SLACK)
    before = copy.deepcopy(trusted)
    with pytest.raises(errors.RollbackError):
        verify_manifest(ks, envelope_bytes(old, factory.feed_key), FEED, now, trusted, SLACK)
    assert trusted == before


def test_manifest_same_version_different_content(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    previous = _manifest_signed(factory, 5)
    other = _manifest_signed(factory, 5, entry_count=3)
    with pytest.raises(errors.HashChainError):
        verify_manifest(ks, envelope_bytes(other, factory.feed_key), FEED, now, previous, SLACK)


def test_manifest_expired_freeze(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    previous = _manifest_signed(factory, 1)
    before = copy.deepcopy(previous)
    stale = _manifest_signed(factory, 2, expires_at="2026-11-20T11:54:59Z",
                             prev_manifest_sha256=chain_digest(previous))
    with pytest.raises(errors.FreezeError):
        verify_manifest(ks, envelope_bytes(stale, factory.feed_key), FEED, now, previous, SLACK)
    assert previous == before
    # just inside the slack is fine
    ok = _manifest_signed(factory, 2, expires_at="2026-11-20T11:55:00Z",
                          prev_manifest_sha256=chain_digest(previous))
    assert verify_manifest(ks, envelope_bytes(ok, factory.feed_key), FEED, now, previous, SLACK)


def test_manifest_broken_hash_chain(factory: FeedFactory, now: datetime) -> None:
    ks = _keyset(factory, now)
    previous = _manifest_signed(factory, 1)
    before = copy.deepcopy(previous)
    forked = _manifest_signed(factory, 2, prev_manifest_sha256="f" * 64)
    with pytest.raises(errors.HashChainError):
        verify_manifest(ks, envelope_bytes(forked, factory.feed_key), FEED, now, previous, SLACK)
    assert previous == before
    linked = _manifest_signed(factory, 2, prev_manifest_sha256=chain_digest(previous))
    assert verify_manifest(ks, envelope_bytes(linked, factory.feed_key), FEED, now, previous,
                           SLACK)["version"] == 2


def test_manifest_chain_survives_refresh(factory: FeedFactory, now: datetime) -> None:
    """prev_manifest_sha256 ignores issued/expires, so a refreshed v1 still links to v2."""
    ks = _keyset(factory, now)
    v1 = _manifest_signed(factory, 1)
    v1_refreshed = _manifest_signed(factory, 1, issued_at="2026-11-20T11:30:00Z",
                                    expires_at="2026-11-23T00:00:00Z")
    v2 = _manifest_signed(factory, 2, prev_manifest_sha256=chain_digest(v1))
    assert verify_manifest(ks, envelope_bytes(v2, factory.feed_key), FEED, now, v1_refreshed,
                           SLACK)["version"] == 2


@pytest.mark.parametrize("change", [
    {"type": "keyset"}, {"format": 3}, {"format": True}, {"format": "2"}, {"version": 0},
    {"set_digest": "XYZ"},
    {"snapshot": {"version": 1, "path": "../../etc/passwd", "sha256": "a" * 64, "size": 1}},
    {"deltas": [{"from": 1, "to": 3, "path": "artifacts/b.lfa", "sha256": "b" * 64, "size": 1}]},
    {"entry_count": -1}, {"issued_at": "yesterday"},
])
def test_manifest_malformed(factory: FeedFactory, now: datetime, change: dict) -> None:
    ks = _keyset(factory, now)
    data = envelope_bytes(_manifest_signed(factory, **change), factory.feed_key)
    with pytest.raises(errors.ManifestFormatError):
        verify_manifest(ks, data, FEED, now, None, SLACK)


def test_manifest_not_json(factory: FeedFactory, now: datetime) -> None:
    with pytest.raises(errors.ManifestSignatureError):
        verify_manifest(_keyset(factory, now), b"\xff<html>", FEED, now, None, SLACK)


def test_every_error_has_a_distinct_code() -> None:
    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.SyncError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)) >= 16
