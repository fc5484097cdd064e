"""Publication: what it derives once, and the freshness test a check makes with one float."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.publication import NEVER_FRESH, SCREENED_FEEDS, FeedView, Publication

BASE = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def _views(version: int = 1, keys: np.ndarray | None = None) -> list[FeedView]:
    data = np.array([1, 5, 9], dtype=np.uint64) if keys is None else keys
    return [FeedView(f, version, data, (), False, BASE + timedelta(days=2)) for f in SCREENED_FEEDS]


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(-5, 5), min_size=3, max_size=3),
    never=st.lists(st.booleans(), min_size=3, max_size=3),
    probe=st.integers(-7, 7),
)
def test_stale_from_agrees_with_is_stale_at_every_whole_second(
    offsets: list[int], never: list[bool], probe: int
) -> None:
    """`time() >= stale_from` (the screener's one comparison) is `is_stale` of some feed."""
    fresh = {f: NEVER_FRESH if n else BASE + timedelta(seconds=o)
             for f, o, n in zip(SCREENED_FEEDS, offsets, never, strict=True)}
    publication = Publication.build(_views(), [], fresh)
    for fraction in (0.0, 0.5, 0.999):
        now = BASE + timedelta(seconds=probe)
        stale_by_clock = now.timestamp() + fraction >= publication.stale_from
        assert stale_by_clock == any(publication.is_stale(f, now) for f in SCREENED_FEEDS)


def test_unchanged_data_keeps_its_search_index_and_hmac_keys() -> None:
    views = _views()
    keys = [(1, b"k" * 32)]
    fresh = dict.fromkeys(SCREENED_FEEDS, BASE)
    first = Publication.build(views, keys, fresh)
    second = Publication.build(views, keys, {**fresh, "phone-block": BASE + timedelta(1)}, first)
    assert all(second.lookups[f] is first.lookups[f] for f in SCREENED_FEEDS)
    assert second.macs is first.macs
    changed = Publication.build(_views(2, np.array([2], dtype=np.uint64)), [(2, b"j" * 32)],
                                fresh, second)
    assert all(changed.lookups[f] is not second.lookups[f] for f in SCREENED_FEEDS)
    assert changed.macs is not second.macs and changed.hash_keys == ((2, b"j" * 32),)
    assert not second.same_content(first) and second.same_content(
        Publication.build(views, keys, dict(second.fresh_until), second))


def test_a_publication_cannot_be_changed_in_place() -> None:
    publication = Publication.build(_views(), [(1, b"k" * 32)], dict.fromkeys(SCREENED_FEEDS, BASE))
    with pytest.raises(AttributeError):
        publication.views = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        publication.views["phone-block"] = _views()[0]  # type: ignore[index]
    with pytest.raises(TypeError):
        publication.fresh_until["phone-block"] = BASE  # type: ignore[index]
