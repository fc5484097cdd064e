"""The screener's prefix-bucket lookup answers exactly set membership (bench-driven change).

`check_hashed` searches one bucket of a sorted feed found through a prefix
index; these properties pin it to plain membership, including the edges the
index could get wrong: keys 0 and 2**64 - 1, bucket boundaries, one-key and
many-key feeds, keys just beside listed ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.publication import FeedView, Publication
from client_sdk.screener import CallScreener

MAX = 2**64 - 1
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


class Feeds:
    """A publication source with a phone-block feed of `block` (allow/warn empty)."""

    def __init__(self, block: list[int]) -> None:
        keys = np.array(sorted(set(block)), dtype=np.uint64)
        empty = np.zeros(0, np.uint64)
        self.publication = Publication.build(
            [FeedView("phone-block", 1, keys, (), False, EXPIRES),
             FeedView("phone-allow", 1, empty, (), False, EXPIRES),
             FeedView("phone-warn", 1, empty, (), False, EXPIRES)],
            [(1, b"k" * 32)],
            dict.fromkeys(("phone-block", "phone-allow", "phone-warn"), EXPIRES),
        )


edge = st.sampled_from([0, 1, MAX, MAX - 1, 2**63, 2**63 - 1, 2**58, 2**58 - 1, 2**40])
key = st.one_of(edge, st.integers(0, MAX))


@settings(max_examples=150, deadline=None)
@given(st.lists(key, max_size=300), st.lists(key, max_size=50))
def test_lookup_is_membership(listed: list[int], probes: list[int]) -> None:
    screener = CallScreener(Feeds(listed))
    members = set(listed)
    near = [p + d for p in list(members)[:20] for d in (-1, 1) if 0 <= p + d <= MAX]
    for probe in [*probes, *members, *near]:
        expected = "block" if probe in members else "allow"
        assert screener.check_hashed(probe).action == expected


def test_large_feed_every_listed_key_and_neighbours() -> None:
    rng = np.random.default_rng(7)
    listed = np.unique(rng.integers(0, MAX, 200_000, dtype=np.uint64, endpoint=True))
    screener = CallScreener(Feeds(listed.tolist()))
    members = set(listed.tolist())
    for k in listed[::97].tolist():
        assert screener.check_hashed(k).action == "block"
        for n in (k - 1, k + 1):
            if 0 <= n <= MAX:
                assert screener.check_hashed(n).action == ("block" if n in members else "allow")
    assert screener.check_hashed(0).action == ("block" if 0 in members else "allow")
    assert screener.check_hashed(MAX).action == ("block" if MAX in members else "allow")


def test_a_new_view_is_seen_at_once() -> None:
    feeds = Feeds([5])
    screener = CallScreener(feeds)
    assert screener.check_hashed(6).action == "allow"
    old = feeds.publication
    block = FeedView("phone-block", 2, np.array([6], dtype=np.uint64), (), False, EXPIRES)
    feeds.publication = Publication.build(  # what FeedClient does after a sync
        [block, *(v for f, v in old.views.items() if f != "phone-block")],
        old.hash_keys, old.fresh_until, old)
    verdict = screener.check_hashed(6)
    assert verdict.action == "block" and verdict.feed_version["phone-block"] == 2
