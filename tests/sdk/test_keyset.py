"""Issue 15: the SDK's base + overlay key set and its incremental set digest.

Properties, for random sequences of adds and removes (keys clustered so that
deltas share digest buckets, and spread over the whole 64-bit range): the
incrementally updated format-2 digest equals the digest recomputed from
scratch, the KeySet equals a plain Python set, the screener's lookup over base
+ overlay answers as membership in that set, and the store persists the overlay
(no new data file) and reloads it verified.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.keyset import KeySet
from client_sdk.publication import SortedKeys
from client_sdk.store import FeedStore
from schemas.artifact import ArtifactError
from schemas.manifest import key_set_digest

keys64 = st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 3).map(lambda b: b << 48 | 5),
                   st.integers(2**48 - 50, 2**48 + 50))
steps = st.lists(st.tuples(st.sets(keys64, max_size=12), st.sets(st.integers(0, 60), max_size=6)),
                 min_size=1, max_size=15)


def _u64(values: set[int]) -> np.ndarray:
    return np.array(sorted(values), dtype=np.uint64)


def _hit(lookup: SortedKeys, key: int) -> bool:
    """The screener's test, as in CallScreener._lookup."""
    from bisect import bisect_left

    if key in lookup.extra:
        return True
    bucket = key >> lookup.shift
    end = lookup.index[bucket + 1]
    i = bisect_left(lookup.search, key, lookup.index[bucket], end)
    return i < end and lookup.search[i] == key and key not in lookup.gone


@settings(max_examples=60, deadline=None)
@given(base=st.sets(keys64, max_size=60), seq=steps)
def test_incremental_digest_and_lookup_equal_a_plain_set(base: set[int], seq: list) -> None:
    model = set(base)
    keys = KeySet.of(_u64(model))
    keys.digest(2)  # bucket digests of the base: from here on they are updated, not recomputed
    lookup = SortedKeys.of_set(keys)
    for adds, picks in seq:
        ordered = sorted(model)
        removes = {ordered[i % len(ordered)] for i in picks} if ordered else set()
        adds = adds - model
        keys = keys.apply(_u64(adds), _u64(removes))
        model = (model - removes) | adds
        assert keys.digests is not None  # the incremental path ran
        assert keys.digest(2) == key_set_digest(_u64(model), 2)
        assert keys.digest(1) == key_set_digest(_u64(model), 1)
        assert keys.tolist() == sorted(model) and len(keys) == len(model)
        lookup = SortedKeys.of_set(keys, lookup)
        assert lookup.keys is keys.base  # the base index is reused across deltas
        probes = set(list(model)[:20]) | set(list(removes)[:20]) | {0, 2**64 - 1}
        for key in probes:
            assert _hit(lookup, key) == (key in model) == (key in keys)


def test_a_delta_that_does_not_fit_is_refused() -> None:
    keys = KeySet.of(_u64({1, 2, 3})).apply(_u64({9}), _u64({2}))
    with pytest.raises(ArtifactError):
        keys.apply(_u64({9}), _u64(set()))  # already added
    with pytest.raises(ArtifactError):
        keys.apply(_u64(set()), _u64({2}))  # already removed
    with pytest.raises(ArtifactError):
        keys.apply(_u64({3}), _u64(set()))  # in the base


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=steps)
def test_store_keeps_the_overlay_in_state_and_reloads_it_verified(
    tmp_path_factory: pytest.TempPathFactory, seq: list
) -> None:
    """A delta commit writes no data file; a fresh load re-verifies base + overlay."""
    from tests.sdk.feedfactory import FeedFactory

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    factory = FeedFactory(now)
    state = Path(tmp_path_factory.mktemp("s"))
    model = {5, 7, 2**63}
    env = factory.publish("phone-block", model)
    hist = factory.feed("phone-block")
    store = FeedStore(state, "phone-block", records=False)
    stored = store.commit(env, hist.signed[hist.version], _u64(model), None, now)
    base_file = stored.data_file
    for adds, picks in seq:
        ordered = sorted(model)
        removes = {ordered[i % len(ordered)] for i in picks} if ordered else set()
        adds = adds - model
        model = (model - removes) | adds
        env = factory.publish("phone-block", model)
        keys = stored.data.apply(_u64(adds), _u64(removes))
        stored = store.commit(env, hist.signed[hist.version], keys, None, now)
        assert stored.data_file == base_file  # the base file was not rewritten
        loaded = FeedStore(state, "phone-block", records=False).load()
        assert loaded is not None and loaded.data is not None, "overlay did not verify"
        assert loaded.data.tolist() == sorted(model)
