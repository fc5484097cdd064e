"""The keystore: keys on disk, keys.json, root rotation chain, feed-key rotation."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from hub.feeds.keystore import Keystore, KeystoreError
from schemas import keyfile
from schemas.envelope import EnvelopeError, verified_signers, verify_envelope
from schemas.keys import b64decode, key_id

NOW = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def _pub(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64decode(b64, length=32))


def _trusted_root(ks: Keystore) -> dict[str, Ed25519PublicKey]:
    key = _pub(ks.root_public_b64())
    return {key_id(b64decode(ks.root_public_b64())): key}


def _feed_keys(keyset: dict, now: datetime) -> dict[str, Ed25519PublicKey]:
    from schemas.timefmt import parse_time

    return {
        k["keyid"]: _pub(k["public_key"])
        for k in keyset["feed_keys"]
        if parse_time(k["expires_at"]) >= now
    }


def test_ensure_creates_private_files_once(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys")
    assert ks.ensure(NOW) is True
    root_before = ks.root_public_b64()
    assert ks.ensure(NOW) is False
    assert ks.root_public_b64() == root_before
    files = sorted(p.name for p in (tmp_path / "keys").iterdir())
    assert "root-1.pem" in files and "feed-1.pem" in files and "keystore.json" in files
    for name in ("root-1.pem", "feed-1.pem", "keystore.json"):
        mode = stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode)
        assert mode == 0o600, name
    pem = (tmp_path / "keys" / "root-1.pem").read_bytes()
    assert b"ENCRYPTED" not in pem
    load_pem_private_key(pem, password=None)


def test_passphrase_encrypts_keys_and_is_required(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys", passphrase="correct horse")
    ks.ensure(NOW)
    for name in ("root-1.pem", "feed-1.pem"):
        pem = (tmp_path / "keys" / name).read_bytes()
        assert pem.startswith(keyfile.BEGIN)
        assert keyfile.key_file_header(pem)["kdf"] == "scrypt"
        with pytest.raises(ValueError):
            load_pem_private_key(pem, password=None)
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600
    # the same passphrase in a fresh process-like instance signs fine
    envelope = Keystore(tmp_path / "keys", passphrase="correct horse").keyset_envelope(
        NOW, timedelta(days=1)
    )
    verify_envelope(envelope, _trusted_root(ks))
    with pytest.raises(KeystoreError):
        Keystore(tmp_path / "keys", passphrase="wrong").keyset_envelope(NOW, timedelta(days=1))
    with pytest.raises(KeystoreError):
        Keystore(tmp_path / "keys").keyset_envelope(NOW, timedelta(days=1))


def test_feed_key_encrypted_the_old_pbkdf2_way_still_signs(tmp_path: Path) -> None:
    """A hub upgraded in place keeps its PBKDF2-encrypted PEMs (2,048 iterations) readable;
    keys it creates from then on are scrypt files."""
    ks = Keystore(tmp_path / "keys", passphrase="correct horse")
    ks.ensure(NOW)
    path = tmp_path / "keys" / "feed-1.pem"
    key = keyfile.load_private_key(path.read_bytes(), b"correct horse")
    path.write_bytes(key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"correct horse")))
    upgraded = Keystore(tmp_path / "keys", passphrase="correct horse")
    signed = upgraded.sign_manifest({"type": "manifest", "version": 1})
    verify_envelope(signed, {upgraded.current_feed_keyid(): key.public_key()})
    upgraded.rotate_feed_key(timedelta(days=1), NOW)
    newest = sorted((tmp_path / "keys").glob("feed-*.pem"))[-1]
    assert keyfile.key_file_header(newest.read_bytes())["kdf"] == "scrypt"


def test_no_keystore_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="init"):
        Keystore(tmp_path / "nothing").root_public_b64()


def test_keyset_is_root_signed_and_lists_the_feed_key(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys", min_poll_interval_s=90)
    ks.ensure(NOW)
    envelope = ks.keyset_envelope(NOW, timedelta(hours=6))
    signed = verify_envelope(envelope, _trusted_root(ks))
    assert signed["type"] == "keyset"
    assert signed["version"] == 1
    assert signed["issued_at"] == "2026-11-24T23:00:00Z"
    assert signed["expires_at"] == "2026-11-25T05:00:00Z"
    assert signed["min_poll_interval_s"] == 90
    assert signed["root_keyid"] == next(iter(_trusted_root(ks)))
    assert [k["keyid"] for k in signed["feed_keys"]] == [ks.current_feed_keyid()]
    # a manifest signed by the feed key verifies through the keyset
    manifest = ks.sign_manifest({"type": "manifest", "version": 1})
    verify_envelope(manifest, _feed_keys(signed, NOW))
    # and not with the root key (the root never signs manifests)
    with pytest.raises(EnvelopeError):
        verify_envelope(manifest, _trusted_root(ks))


def test_fingerprint_matches_key_id(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys")
    ks.ensure(NOW)
    kid = key_id(b64decode(ks.root_public_b64()))
    assert ks.root_fingerprint().replace(":", "") == kid[:16]


def test_feed_rotation_keeps_old_manifests_verifiable_through_overlap(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys")
    ks.ensure(NOW)
    old_kid = ks.current_feed_keyid()
    old_manifest = ks.sign_manifest({"type": "manifest", "version": 7})
    new_kid = ks.rotate_feed_key(timedelta(hours=24), now=NOW)
    assert new_kid != old_kid and ks.current_feed_keyid() == new_kid
    new_manifest = ks.sign_manifest({"type": "manifest", "version": 8})
    assert [s["keyid"] for s in new_manifest["signatures"]] == [new_kid]

    during = NOW + timedelta(hours=23)
    keyset = verify_envelope(ks.keyset_envelope(during, timedelta(hours=6)), _trusted_root(ks))
    assert keyset["version"] == 2
    listed = {k["keyid"]: k["expires_at"] for k in keyset["feed_keys"]}
    assert listed[old_kid] == "2026-11-25T23:00:00Z"
    verify_envelope(old_manifest, _feed_keys(keyset, during))
    verify_envelope(new_manifest, _feed_keys(keyset, during))

    after = NOW + timedelta(hours=25)
    keyset = verify_envelope(ks.keyset_envelope(after, timedelta(hours=6)), _trusted_root(ks))
    assert keyset["version"] == 3, "dropping a key is a new keyset version"
    assert [k["keyid"] for k in keyset["feed_keys"]] == [new_kid]
    with pytest.raises(EnvelopeError):
        verify_envelope(old_manifest, _feed_keys(keyset, after))
    verify_envelope(new_manifest, _feed_keys(keyset, after))
    # the version is stable once pruned
    again = ks.keyset_envelope(after + timedelta(minutes=1), timedelta(hours=6))
    assert again["signed"]["version"] == 3


def test_root_rotation_chain(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys")
    ks.ensure(NOW)
    pinned = _trusted_root(ks)
    assert ks.roots_document() == []
    ks.rotate_root_key(now=NOW)
    ks.rotate_root_key(now=NOW + timedelta(days=1))
    chain = ks.roots_document()
    assert [e["signed"]["version"] for e in chain] == [2, 3]
    trusted = pinned
    for entry in chain:
        signed = entry["signed"]
        new = {signed["keyid"]: _pub(signed["public_key"])}
        assert key_id(b64decode(signed["public_key"])) == signed["keyid"]
        both = verified_signers(entry, {**trusted, **new})
        assert both == set(trusted) | set(new), "signed by the old root and the new key"
        trusted = new
    assert ks.root_version() == 3
    keyset = ks.keyset_envelope(NOW, timedelta(hours=1))
    assert keyset["signed"]["version"] == 3
    verify_envelope(keyset, trusted)
    with pytest.raises(EnvelopeError):
        verify_envelope(keyset, pinned)


def test_rotation_never_overwrites_key_files(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys")
    ks.ensure(NOW)
    before = (tmp_path / "keys" / "feed-1.pem").read_bytes()
    ks.rotate_feed_key(timedelta(hours=1), now=NOW)
    assert (tmp_path / "keys" / "feed-1.pem").read_bytes() == before
    assert stat.S_IMODE((tmp_path / "keys" / "feed-2.pem").stat().st_mode) == 0o600
