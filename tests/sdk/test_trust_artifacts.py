"""Pure trust core: planning, artifact checks and applying (the attack catalog, part 2)."""

from __future__ import annotations

import copy
from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk import errors
from client_sdk.trust import (
    ArtifactRef,
    apply_key_artifacts,
    apply_record_artifacts,
    check_artifact,
    check_consortium_keys,
    plan_update,
)
from schemas.manifest import key_set_digest
from tests.sdk.feedfactory import FeedFactory

FEED = "phone-block"
LIMIT = 1 << 20


def _signed(factory: FeedFactory, feed: str = FEED) -> dict:
    hist = factory.feed(feed)
    return hist.signed[hist.version]


def _fetch(factory: FeedFactory, refs: list[ArtifactRef], feed: str = FEED) -> list[bytes]:
    blobs = factory.plan_bytes(feed, [r.path for r in refs])
    for ref, blob in zip(refs, blobs, strict=True):
        check_artifact(ref, blob)
    return blobs


def _publish_series(factory: FeedFactory, sets: list[set[int]]) -> None:
    for keys in sets:
        factory.publish(FEED, keys)


def test_snapshot_then_deltas_roundtrip(factory: FeedFactory) -> None:
    _publish_series(factory, [{1, 5, 9}, {1, 9, 12}, {2, 9, 12, 40}])
    m = _signed(factory)
    refs = plan_update(m, None, LIMIT)
    assert [r.kind for r in refs] == ["snapshot", "delta", "delta"]
    keys = apply_key_artifacts(None, None, _fetch(factory, refs), m)
    assert keys.tolist() == [2, 9, 12, 40]


def test_plan_from_current_uses_deltas_only(factory: FeedFactory) -> None:
    _publish_series(factory, [{1}, {1, 2}])
    v2 = apply_key_artifacts(None, None, _fetch(factory, plan_update(_signed(factory), None,
                                                                     LIMIT)), _signed(factory))
    factory.publish(FEED, {1, 2, 3})
    m = _signed(factory)
    refs = plan_update(m, 2, LIMIT)
    assert [(r.kind, r.from_version, r.to_version) for r in refs] == [("delta", 2, 3)]
    assert apply_key_artifacts(v2, 2, _fetch(factory, refs), m).tolist() == [1, 2, 3]
    assert plan_update(m, 3, LIMIT) == []


def test_plan_before_snapshot_falls_back_to_snapshot(factory: FeedFactory) -> None:
    factory.snapshot_every = 2
    _publish_series(factory, [{1}, {2}, {3}, {4}])  # snapshot at v3, delta 3->4
    refs = plan_update(_signed(factory), 1, LIMIT)
    assert [(r.kind, r.to_version) for r in refs] == [("snapshot", 3), ("delta", 4)]


def test_plan_refuses_local_data_newer_than_manifest(factory: FeedFactory) -> None:
    _publish_series(factory, [{1}])
    with pytest.raises(errors.RollbackError):
        plan_update(_signed(factory), 5, LIMIT)


def test_oversized_artifact_refused_before_download(factory: FeedFactory) -> None:
    _publish_series(factory, [set(range(0, 10_000, 3))])
    m = _signed(factory)
    size = m["snapshot"]["size"]
    with pytest.raises(errors.ArtifactTooLargeError):
        plan_update(m, None, size - 1)
    assert plan_update(m, None, size)


def test_artifact_longer_than_manifest_says(factory: FeedFactory) -> None:
    _publish_series(factory, [{1, 2}])
    ref = plan_update(_signed(factory), None, LIMIT)[0]
    blob = factory.plan_bytes(FEED, [ref.path])[0]
    with pytest.raises(errors.ArtifactTooLargeError):
        check_artifact(ref, blob + b"\0" * 10)
    with pytest.raises(errors.ArtifactHashError):
        check_artifact(ref, blob[:-1])


def test_tampered_snapshot(factory: FeedFactory) -> None:
    _publish_series(factory, [{10, 20, 30}])
    ref = plan_update(_signed(factory), None, LIMIT)[0]
    blob = bytearray(factory.plan_bytes(FEED, [ref.path])[0])
    blob[-1] ^= 0x01
    with pytest.raises(errors.ArtifactHashError):
        check_artifact(ref, bytes(blob))


def test_tampered_delta(factory: FeedFactory) -> None:
    _publish_series(factory, [{10, 20, 30}, {10, 30, 31}])
    refs = plan_update(_signed(factory), 1, LIMIT)
    blob = bytearray(factory.plan_bytes(FEED, [refs[0].path])[0])
    blob[30] ^= 0x40
    with pytest.raises(errors.ArtifactHashError):
        check_artifact(refs[0], bytes(blob))


def test_set_digest_mismatch_keeps_current(factory: FeedFactory) -> None:
    """A hostile feed key signs a manifest whose artifacts do not build its set_digest."""
    _publish_series(factory, [{1, 2, 3}])
    current = apply_key_artifacts(None, None, _fetch(factory, plan_update(
        _signed(factory), None, LIMIT)), _signed(factory))
    before = current.copy()
    factory.publish(FEED, {1, 2, 3, 4})
    lying = copy.deepcopy(_signed(factory))
    lying["set_digest"] = key_set_digest(np.array([1, 2, 3, 5], dtype=np.uint64))
    refs = plan_update(lying, 1, LIMIT)
    with pytest.raises(errors.SetDigestError):
        apply_key_artifacts(current, 1, _fetch(factory, refs), lying)
    lying["set_digest"] = _signed(factory)["set_digest"]
    lying["entry_count"] = 3
    with pytest.raises(errors.SetDigestError):
        apply_key_artifacts(current, 1, _fetch(factory, refs), lying)
    np.testing.assert_array_equal(current, before)


def test_delta_that_does_not_chain(factory: FeedFactory) -> None:
    _publish_series(factory, [{1}, {1, 2}, {1, 2, 3}])
    m = _signed(factory)
    d23 = factory.plan_bytes(FEED, [m["deltas"][1]["path"]])
    base = np.array([1], dtype=np.uint64)
    with pytest.raises(errors.ArtifactFormatError):
        apply_key_artifacts(base, 1, d23, m)  # skips 1->2


def test_garbage_artifact(factory: FeedFactory) -> None:
    _publish_series(factory, [{1}])
    with pytest.raises(errors.ArtifactFormatError):
        apply_key_artifacts(None, None, [b"LFA1" + b"\0" * 40], _signed(factory))


def test_record_artifact_in_key_feed(factory: FeedFactory) -> None:
    factory.publish("complaint-groups", [{"group_id": "g-01", "action": "review"}])
    _publish_series(factory, [{1}])
    blob = factory.plan_bytes("complaint-groups",
                              [_signed(factory, "complaint-groups")["snapshot"]["path"]])
    with pytest.raises(errors.ArtifactFormatError):
        apply_key_artifacts(None, None, blob, _signed(factory))


def test_record_feed_roundtrip_and_digest(factory: FeedFactory) -> None:
    feed = "complaint-groups"
    g1 = {"group_id": "g-01", "action": "review", "member_count": 2}
    g2 = {"group_id": "g-02", "action": "review", "member_count": 3}
    factory.publish(feed, [g1])
    factory.publish(feed, [dict(g1, member_count=4), g2])
    m = _signed(factory, feed)
    refs = plan_update(m, None, LIMIT)
    records = apply_record_artifacts(None, None, _fetch(factory, refs, feed), m)
    assert [r["member_count"] for r in records] == [4, 3]
    lying = dict(m, entry_count=1)
    with pytest.raises(errors.SetDigestError):
        apply_record_artifacts(None, None, _fetch(factory, refs, feed), lying)


def test_consortium_keys_checked(factory: FeedFactory, now: datetime) -> None:
    _publish_series(factory, [{1}])
    m = _signed(factory)
    check_consortium_keys(m, dict(factory.consortium))
    with pytest.raises(errors.ConsortiumKeyError):
        check_consortium_keys(m, {1: b"\x00" * 32})
    with pytest.raises(errors.ConsortiumKeyError):
        check_consortium_keys(m, {})


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sets(st.integers(0, 2**64 - 1), max_size=40), min_size=1, max_size=6),
       st.integers(1, 3), st.data())
def test_any_history_rebuilds_exact_set_from_any_start(
    sets: list[set[int]], every: int, data: st.DataObject
) -> None:
    """Invariant: whatever version a client holds, the plan rebuilds exactly the latest set."""
    from tests.helpers.static_hub import NOW

    factory = FeedFactory(NOW)
    factory.snapshot_every = every
    states: dict[int, np.ndarray] = {}
    for keys in sets:
        factory.publish(FEED, keys)
        states[factory.feed(FEED).version] = factory.feed(FEED).data
    m = _signed(factory)
    start = data.draw(st.sampled_from([None, *states]))
    current = None if start is None else states[start]
    refs = plan_update(m, start, LIMIT)
    got = apply_key_artifacts(current, start, _fetch(factory, refs), m) if refs else current
    assert got is not None
    assert got.tolist() == sorted(sets[-1])
