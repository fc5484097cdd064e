"""The SDK's on-disk store: atomic commits, verification on load, private key file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.store import FeedStore, TrustStore
from tests.sdk.feedfactory import FeedFactory

FEED = "phone-block"


def _published(factory: FeedFactory, keys: set[int]) -> tuple[bytes, dict, np.ndarray]:
    envelope = factory.publish(FEED, keys)
    hist = factory.feed(FEED)
    return envelope, hist.signed[hist.version], hist.data


def test_commit_then_load_roundtrip(tmp_path: Path, factory: FeedFactory, now: datetime) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    assert store.load() is None
    env, signed, keys = _published(factory, {3, 1, 2})
    committed = store.commit(env, signed, keys, '"etag-1"', now)
    loaded = FeedStore(tmp_path, FEED, records=False).load()
    assert loaded is not None and loaded.version == 1 and loaded.etag == '"etag-1"'
    assert loaded.data.tolist() == [1, 2, 3] == committed.data.tolist()
    assert loaded.manifest_envelope == env and loaded.synced_at == now
    assert isinstance(loaded.data.base, np.memmap)  # a KeySet on the mapped base file
    with pytest.raises(ValueError):
        loaded.data.base[0] = 7  # read-only mapping: readers cannot corrupt the store


def test_new_version_replaces_old_file(tmp_path: Path, factory: FeedFactory,
                                       now: datetime) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    env, signed, keys = _published(factory, {1, 2})
    first = store.commit(env, signed, keys, None, now)
    env, signed, keys = _published(factory, {2, 5, 9})
    second = store.commit(env, signed, keys, None, now)
    files = sorted(p.name for p in (tmp_path / FEED).iterdir())
    assert files == sorted([second.data_file, "state.json"])
    assert first.data.tolist() == [1, 2]  # an old reader's mapping stays valid after unlink
    assert store.load().data.tolist() == [2, 5, 9]


def test_refresh_keeps_data_file(tmp_path: Path, factory: FeedFactory, now: datetime) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    env, signed, keys = _published(factory, {4})
    first = store.commit(env, signed, keys, '"a"', now)
    refreshed = factory.refresh(FEED)
    second = store.commit(refreshed, json.loads(refreshed)["signed"], None, '"b"', now,
                          keep_data_file=first.data_file)
    assert second.data_file == first.data_file
    loaded = store.load()
    assert loaded.manifest_envelope == refreshed and loaded.data.tolist() == [4]


def test_empty_feed(tmp_path: Path, factory: FeedFactory, now: datetime) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    env, signed, keys = _published(factory, set())
    store.commit(env, signed, keys, None, now)
    loaded = store.load()
    assert loaded.data is not None and len(loaded.data) == 0


def test_records_roundtrip(tmp_path: Path, factory: FeedFactory, now: datetime) -> None:
    store = FeedStore(tmp_path, "complaint-groups", records=True)
    recs = [{"group_id": "g-02", "action": "review"}, {"group_id": "g-01", "action": "review"}]
    env = factory.publish("complaint-groups", recs)
    hist = factory.feed("complaint-groups")
    store.commit(env, hist.signed[1], hist.data, None, now)
    loaded = store.load()
    assert [r["group_id"] for r in loaded.data] == ["g-01", "g-02"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "delete"])
def test_corrupted_data_detected(tmp_path: Path, factory: FeedFactory, now: datetime,
                                 damage: str) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    env, signed, keys = _published(factory, set(range(100, 2000, 7)))
    committed = store.commit(env, signed, keys, '"e"', now)
    path = tmp_path / FEED / committed.data_file
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x10
        path.write_bytes(bytes(raw))
    elif damage == "truncate":
        path.write_bytes(bytes(raw[:-8]))
    elif damage == "extend":
        path.write_bytes(bytes(raw) + bytes(8))
    else:
        path.unlink()
    loaded = store.load()
    # the trusted manifest survives as the rollback floor; the data and ETag do not
    assert loaded is not None and loaded.data is None and loaded.etag is None
    assert loaded.version == 1


def test_corrupted_records_detected(tmp_path: Path, factory: FeedFactory, now: datetime) -> None:
    store = FeedStore(tmp_path, "complaint-groups", records=True)
    env = factory.publish("complaint-groups", [{"group_id": "g-01", "action": "review"}])
    committed = store.commit(env, factory.feed("complaint-groups").signed[1],
                             factory.feed("complaint-groups").data, None, now)
    path = tmp_path / "complaint-groups" / committed.data_file
    path.write_bytes(path.read_bytes().replace(b"review", b"reject"))
    assert store.load().data is None


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"data_file": "../../x"}'])
def test_garbage_state_file_is_no_state(tmp_path: Path, content: bytes) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    store.state_path.write_bytes(content)
    assert store.load() is None


def test_orphans_from_a_crashed_write_are_ignored_then_removed(
    tmp_path: Path, factory: FeedFactory, now: datetime
) -> None:
    store = FeedStore(tmp_path, FEED, records=False)
    env, signed, keys = _published(factory, {1})
    store.commit(env, signed, keys, None, now)
    orphan = tmp_path / FEED / "keys-00000002-deadbeef.u64"
    orphan.write_bytes(b"\x01" * 12)  # half-written next version
    temp = tmp_path / FEED / ".state.json.0000.tmp"
    temp.write_bytes(b'{"half":')
    assert store.load().data.tolist() == [1]
    env, signed, keys = _published(factory, {1, 2})
    store.commit(env, signed, keys, None, now)
    assert not orphan.exists() and not temp.exists()


def test_trust_store(tmp_path: Path) -> None:
    trust = TrustStore(tmp_path)
    assert trust.load_consortium() == {} and trust.load_keyset() is None
    trust.save_consortium({1: b"\x01" * 32, 2: b"\x02" * 32})
    assert TrustStore(tmp_path).load_consortium() == {1: b"\x01" * 32, 2: b"\x02" * 32}
    assert (tmp_path / "trust/consortium.json").stat().st_mode & 0o777 == 0o600
    trust.save_root("pin", 3, "a2V5")
    assert trust.load_root("pin")["version"] == 3
    assert trust.load_root("other-pin") is None  # a different pinned root starts over


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sets(st.integers(0, 2**64 - 1), max_size=200), min_size=1, max_size=4))
def test_store_always_loads_what_was_committed_last(tmp_path_factory: pytest.TempPathFactory,
                                                    sets: list[set[int]]) -> None:
    from tests.helpers.static_hub import NOW

    factory = FeedFactory(NOW)
    directory = tmp_path_factory.mktemp("store")
    store = FeedStore(directory, FEED, records=False)
    for keys in sets:
        env, signed, data = _published(factory, keys)
        store.commit(env, signed, data, None, NOW)
    loaded = FeedStore(directory, FEED, records=False).load()
    assert loaded.version == len(sets) and loaded.data.tolist() == sorted(sets[-1])
    assert len([p for p in (directory / FEED).iterdir() if p.suffix == ".u64"]) == 1
