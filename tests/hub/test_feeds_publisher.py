"""The file side of publishing: artifacts, signed manifests, chain, snapshots, retention."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.feeds import publisher as pub
from hub.feeds.keystore import Keystore
from schemas import artifact as codec
from schemas.envelope import verify_envelope
from schemas.keys import b64decode, key_id
from schemas.manifest import MANIFEST_FORMAT, chain_digest, key_set_digest, record_set_digest

NOW = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
EPOCHS = [{"epoch": 1, "key_sha256": "ab" * 32}]


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    ks = Keystore(tmp_path / "keys")
    ks.ensure(NOW)
    return ks


def verify_via_root(ks: Keystore, envelope: dict[str, Any], now: datetime = NOW) -> dict:
    """What a screener does: pin the root, trust keys.json, then the manifest."""
    root_raw = b64decode(ks.root_public_b64())
    root = {key_id(root_raw): Ed25519PublicKey.from_public_bytes(root_raw)}
    keyset = verify_envelope(ks.keyset_envelope(now, timedelta(days=1)), root)
    feed_keys = {
        k["keyid"]: Ed25519PublicKey.from_public_bytes(b64decode(k["public_key"]))
        for k in keyset["feed_keys"]
    }
    return verify_envelope(json.loads(json.dumps(envelope)), feed_keys)


def client_rebuild(paths: pub.FeedPaths, signed: dict[str, Any]) -> np.ndarray:
    """Rebuild from the served files the way the SDK does: snapshot, then each delta."""
    keys = None
    for ref in [signed["snapshot"], *signed["deltas"]]:
        data = (paths.root / ref["path"]).read_bytes()
        assert len(data) == ref["size"]
        assert hashlib.sha256(data).hexdigest() == ref["sha256"]
        art = codec.decode_artifact(data)
        keys = art.keys if art.type == codec.SNAPSHOT else codec.apply_key_delta(
            keys, art.keys, art.removes)
    assert keys is not None
    return keys


def _u64(values: set[int]) -> np.ndarray:
    return np.array(sorted(values), dtype=np.uint64)


def publish_keys(paths: pub.FeedPaths, ks: Keystore, previous: dict | None, base: set[int],
                 new: set[int], now: datetime = NOW, **kw: Any) -> pub.Prepared:
    return pub.publish(
        paths, "phone-block", previous, _u64(base), _u64(new - base), _u64(base - new),
        sign=ks.sign_manifest, now=now, key_epochs=EPOCHS, **kw,
    )


def test_first_publish_is_a_verifiable_snapshot(tmp_path: Path, keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path / "feeds", "phone-block")
    prepared = publish_keys(paths, keystore, None, set(), {5, 1, 2**64 - 1})
    on_disk = json.loads(paths.manifest.read_bytes())
    signed = verify_via_root(keystore, on_disk)
    assert signed == prepared.signed
    assert signed["version"] == 1 and signed["prev_manifest_sha256"] is None
    assert signed["feed"] == "phone-block" and signed["format"] == MANIFEST_FORMAT
    assert signed["entry_count"] == 3 and signed["deltas"] == []
    assert signed["key_epochs"] == EPOCHS
    assert signed["expires_at"] == "2026-11-26T23:00:00Z"
    keys = client_rebuild(paths, signed)
    assert keys.tolist() == [1, 5, 2**64 - 1]
    assert signed["set_digest"] == key_set_digest(keys)
    # the private state is not under artifacts/ and is not a served path
    with pytest.raises(pub.PublishError):
        paths.artifact(".state/entries-1.u64")


change_sets = st.lists(
    st.tuples(st.sets(st.integers(0, 2**64 - 1), max_size=20),
              st.sets(st.integers(0, 40), max_size=5)),
    min_size=1, max_size=12,
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=change_sets, snapshot_every=st.integers(1, 5))
def test_versions_chain_and_digest_match_applied_artifacts(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[set[int], set[int]]],
    snapshot_every: int,
) -> None:
    ks = Keystore(tmp_path_factory.mktemp("k"))
    ks.ensure(NOW)
    paths = pub.feed_paths(tmp_path_factory.mktemp("f"), "phone-warn")
    model: set[int] = set()
    previous = None
    for adds, remove_picks in steps:
        ordered = sorted(model)
        removes = {ordered[i % len(ordered)] for i in remove_picks} if ordered else set()
        new = (model - removes) | (adds - model)
        prepared = pub.publish(
            paths, "phone-warn", previous, _u64(model), _u64(new - model), _u64(model - new),
            sign=ks.sign_manifest, now=NOW, snapshot_every=snapshot_every,
        )
        signed = verify_via_root(ks, json.loads(paths.manifest.read_bytes()))
        assert signed["version"] == (previous["version"] + 1 if previous else 1)
        assert signed["prev_manifest_sha256"] == (chain_digest(previous) if previous else None)
        assert signed["version"] - signed["snapshot"]["version"] < snapshot_every
        assert [d["to"] for d in signed["deltas"]] == list(
            range(signed["snapshot"]["version"] + 1, signed["version"] + 1))
        rebuilt = client_rebuild(paths, signed)
        assert rebuilt.tolist() == sorted(new)
        assert signed["set_digest"] == key_set_digest(rebuilt)
        assert signed["entry_count"] == len(new)
        assert pub.load_entries(paths, "phone-warn", signed).tolist() == sorted(new)
        model, previous = new, prepared.signed


def test_deltas_outgrowing_the_snapshot_trigger_a_new_one(tmp_path: Path,
                                                          keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "phone-block")
    current: set[int] = {1}
    previous = publish_keys(paths, keystore, None, set(), current).signed
    saw_delta = False
    for i in range(2, 30):
        new = current | set(range(i * 10**15, i * 10**15 + 50))
        previous = publish_keys(paths, keystore, previous, current, new).signed
        current = new
        saw_delta |= bool(previous["deltas"])
        pending = sum(d["size"] for d in previous["deltas"])
        assert pending <= previous["snapshot"]["size"]
    assert saw_delta


def test_record_feed_publishes_groups(tmp_path: Path, keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "complaint-groups")
    g1 = {"group_id": "g-01", "action": "review", "member_count": 2, "categories": [],
          "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-02T00:00:00Z",
          "indicators": [{"kind": "complaint_text", "value": "00ff00ff00ff00ff"}]}
    g2 = {**g1, "group_id": "g-02"}
    v1 = pub.publish(paths, "complaint-groups", None, [], [g1, g2], [],
                     sign=keystore.sign_manifest, now=NOW).signed
    g1b = {**g1, "member_count": 3}
    v2 = pub.publish(paths, "complaint-groups", v1, [g1, g2], [g1b], ["g-01"],
                     sign=keystore.sign_manifest, now=NOW).signed
    signed = verify_via_root(keystore, json.loads(paths.manifest.read_bytes()))
    assert signed == v2 and v2["version"] == 2
    assert v2["set_digest"] == record_set_digest([g1b, g2])
    assert pub.build_key_set_from_artifacts(paths.root) == [g1b, g2]


def test_install_refuses_missing_artifacts_and_older_versions(tmp_path: Path,
                                                             keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "phone-block")
    v1 = publish_keys(paths, keystore, None, set(), {1}).signed
    p2 = pub.prepare_publish(paths, "phone-block", v1, _u64({1}), _u64({2}), _u64(set()),
                             sign=keystore.sign_manifest, now=NOW)
    before = paths.manifest.read_bytes()
    assert json.loads(before)["signed"]["version"] == 1, "prepare alone does not go live"
    assert pub.install_manifest(paths, p2.envelope) is True
    # a stale writer cannot roll the live manifest back
    stale = keystore.sign_manifest(v1)
    assert pub.install_manifest(paths, stale) is False
    assert json.loads(paths.manifest.read_bytes())["signed"]["version"] == 2
    # a manifest naming a missing artifact never goes live
    bogus = dict(p2.signed, version=3, deltas=[{"from": 2, "to": 3, "path": "artifacts/"
                                                + "0" * 64 + ".lfa", "sha256": "0" * 64,
                                                "size": 1}])
    with pytest.raises(pub.PublishError, match="missing"):
        pub.install_manifest(paths, keystore.sign_manifest(bogus))
    assert json.loads(paths.manifest.read_bytes())["signed"]["version"] == 2


def test_refresh_resigns_without_breaking_the_chain(tmp_path: Path, keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "phone-block")
    v1 = publish_keys(paths, keystore, None, set(), {1}).signed
    kid = keystore.current_feed_keyid()
    assert not pub.refresh_due(v1, NOW + timedelta(hours=11), kid, [kid])
    assert pub.refresh_due(v1, NOW + timedelta(hours=12), kid, [kid])
    assert pub.refresh_due(v1, NOW, "other", [kid]), "signed by a retired key"
    later = NOW + timedelta(hours=12)
    fresh = pub.refresh(v1, sign=keystore.sign_manifest, now=later)
    assert fresh["signed"]["issued_at"] == "2026-11-25T11:00:00Z"
    assert chain_digest(fresh["signed"]) == chain_digest(v1)
    assert {k: v for k, v in fresh["signed"].items() if not k.endswith("_at")} == {
        k: v for k, v in v1.items() if not k.endswith("_at")}
    assert pub.install_manifest(paths, fresh) is True
    verify_via_root(keystore, json.loads(paths.manifest.read_bytes()), later)


def test_state_file_loss_falls_back_to_artifacts(tmp_path: Path, keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "phone-block")
    v1 = publish_keys(paths, keystore, None, set(), {1, 2, 3}).signed
    v2 = publish_keys(paths, keystore, v1, {1, 2, 3}, {2, 3, 4}).signed
    for p in paths.state.iterdir():
        p.unlink()
    assert pub.load_entries(paths, "phone-block", v2).tolist() == [2, 3, 4]
    # a corrupted state file is not trusted either
    state = next(p for p in paths.state.iterdir() if p.name.startswith("entries-2"))
    state.write_bytes(np.array([9], dtype="<u8").tobytes())
    assert pub.load_entries(paths, "phone-block", v2).tolist() == [2, 3, 4]


def test_retention_deletes_only_long_unreferenced_artifacts(tmp_path: Path,
                                                            keystore: Keystore) -> None:
    paths = pub.feed_paths(tmp_path, "phone-block")
    v1 = publish_keys(paths, keystore, None, set(), {1}).signed
    v2 = publish_keys(paths, keystore, v1, {1}, {7}, snapshot_every=1).signed
    old = pub.referenced(v1) - pub.referenced(v2)
    assert old
    assert pub.collect_garbage(paths, v2, NOW) == []
    assert pub.collect_garbage(paths, v2, NOW + timedelta(days=6)) == []
    assert all((paths.artifacts / n).exists() for n in old)
    assert pub.collect_garbage(paths, v2, NOW + timedelta(days=7)) == sorted(old)
    assert not any((paths.artifacts / n).exists() for n in old)
    assert all((paths.artifacts / n).exists() for n in pub.referenced(v2))
    client_rebuild(paths, v2)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=change_sets, snapshot_every=st.integers(1, 5), window=st.integers(0, 8))
def test_a_window_of_deltas_survives_snapshot_cuts(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[set[int], set[int]]],
    snapshot_every: int, window: int,
) -> None:
    """Issue 13 item 8, as the SDK sees it: after every publish, a screener at any
    earlier version reaches the new set (real `plan_update` + `apply_key_artifacts`),
    and one inside the window does so by deltas alone unless those cost more bytes
    than the snapshot and its deltas."""
    from client_sdk.trust import apply_key_artifacts, plan_update

    ks = Keystore(tmp_path_factory.mktemp("k"))
    ks.ensure(NOW)
    paths = pub.feed_paths(tmp_path_factory.mktemp("f"), "phone-warn")
    model: set[int] = set()
    history: dict[int, set[int]] = {}
    delta_size: dict[int, int] = {}  # from-version -> size of the delta to the next
    previous = None
    for adds, remove_picks in steps:
        ordered = sorted(model)
        removes = {ordered[i % len(ordered)] for i in remove_picks} if ordered else set()
        new = (model - removes) | (adds - model)
        version = previous["version"] + 1 if previous else 1
        floor = max(1, version - window)
        if previous is not None:
            delta_size[version - 1] = len(codec.encode_key_delta(
                _u64(new - model), _u64(model - new), version - 1, version))
        prepared = pub.publish(
            paths, "phone-warn", previous, _u64(model), _u64(new - model), _u64(model - new),
            sign=ks.sign_manifest, now=NOW, snapshot_every=snapshot_every, delta_floor=floor,
        )
        signed = prepared.signed
        listed = [d["from"] for d in signed["deltas"]]
        start = listed[0] if listed else version
        assert listed == list(range(start, version))
        snap = signed["snapshot"]
        since = sum(d["size"] for d in signed["deltas"] if d["from"] >= snap["version"])
        if start > floor and start <= snap["version"] and start > 1:
            # the delta before the kept run was dropped only because it cost too much
            assert sum(delta_size[v] for v in range(start - 1, version)) > snap["size"] + since
        for old, old_set in history.items():
            plan = plan_update(signed, old, 2**30)
            blobs = [(paths.root / ref.path).read_bytes() for ref in plan]
            keys = apply_key_artifacts(_u64(old_set), old, blobs, signed)
            assert keys.tolist() == sorted(new)
            if old >= start:  # the chain is listed: taken unless the snapshot path is cheaper
                chain = sum(delta_size[v] for v in range(old, version))
                by_deltas = all(ref.kind == "delta" for ref in plan)
                assert by_deltas == (old >= snap["version"] or chain <= snap["size"] + since)
        assert pub.load_entries(paths, "phone-warn", signed).tolist() == sorted(new)
        history[version] = new
        model, previous = new, signed
