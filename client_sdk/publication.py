"""Publication: one immutable, verified state of every feed, handed from FeedClient to readers.

python-tuf's ngclient keeps its trusted metadata in one object that an update
replaces as a whole; this is the same idea for the screening hot path.
`FeedClient` builds a new `Publication` after each sync that changed anything
(a feed version, the hashing keys, or freshness) and swaps it in with one
attribute assignment. A reader takes one reference (`client.publication`) per
check and answers from that object only, so a verdict can never mix two
syncs, and no reader takes a lock or waits for a sync.

What is expensive to derive per feed version — the memoryview the lookup
bisects and its prefix index, the pre-keyed HMAC objects per epoch — is built
here once and carried over to the next publication when the data did not change.
"""

from __future__ import annotations

import hashlib
import hmac
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from client_sdk.keyset import KeySet
from schemas.enums import Feed

if TYPE_CHECKING:
    from client_sdk.oprf import ObliviousHasher

SCREENED_FEEDS: tuple[str, ...] = (
    Feed.PHONE_ALLOW.value, Feed.PHONE_BLOCK.value, Feed.PHONE_WARN.value,
)
"""The phone feeds a call screener consults, in decision order."""
NEVER_FRESH = datetime.min.replace(tzinfo=UTC)
"""`fresh_until` of a feed that has never synced successfully."""
_PHONE_PREFIX = b"phone:"
_PER_BUCKET = 8
"""Mean keys per bucket of the prefix index (at most; 10^7 keys give ~4.8): a bucket
is then one or two cache lines of the key file, so a lookup costs about two cache
misses (index, bucket) instead of the six of a 32-key bucket -- measured ~35 %
faster per lookup at 10^7 (issue 15). With 4-byte offsets the index costs
4 / 8 = 0.5 to 0.8 bytes per key."""


@dataclass(frozen=True)
class FeedView:
    """An immutable, verified version of one feed.

    ``stale`` is false inside a `Publication` (freshness is the publication's
    `fresh_until`, which the clock decides); `FeedClient.view` hands out a copy
    with ``stale`` set for the moment of the call.
    """

    feed: str
    version: int
    keys: KeySet | np.ndarray
    """Sorted distinct keys: a `KeySet` (array-like; `np.asarray` or `materialize()`
    gives the flat array) from FeedClient."""
    records: tuple
    stale: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SortedKeys:
    """A feed's sorted keys as the screener searches them: built once per feed version.

    ``bisect_left(search, k, index[k >> shift], index[(k >> shift) + 1])`` searches
    one bucket of about `_PER_BUCKET` keys of a memoryview of native ``uint64``:
    `bisect` on it compares plain ints in C, about twice as fast as
    ``ndarray.searchsorted`` on a scalar. The store's little-endian memmap is used
    as is (no copy); another layout is copied once.
    """

    keys: np.ndarray
    search: memoryview
    index: array
    shift: int
    extra: frozenset[int] = frozenset()
    """Overlay keys not in `keys` (a hit)."""
    gone: frozenset[int] = frozenset()
    """Keys of `keys` the overlay removed (a base hit on one is a miss)."""
    source: Any = None
    """What this was built from (a KeySet or an array): reused while it is the same."""

    def __len__(self) -> int:
        return len(self.keys) + len(self.extra) - len(self.gone)

    @classmethod
    def of_set(cls, keys: KeySet | np.ndarray, previous: SortedKeys | None = None) -> SortedKeys:
        """Lookup for a `KeySet`: the base's index (reused from `previous` while the base
        file is the same, so a delta sync costs O(overlay), not a new index) plus sets."""
        if not isinstance(keys, KeySet):
            return replace(cls.of(keys), source=keys)
        if previous is not None and previous.keys is keys.base:
            base = previous
        else:
            base = cls.of(keys.base)
        return replace(base, extra=frozenset(keys.adds.tolist()),
                       gone=frozenset(keys.removes.tolist()), source=keys)

    @classmethod
    def of(cls, keys: np.ndarray) -> SortedKeys:
        source = keys
        if not (keys.dtype == np.uint64 and keys.dtype.isnative and keys.flags.c_contiguous):
            keys = np.ascontiguousarray(keys, dtype=np.uint64)
        search = memoryview(keys)
        if search.format not in ("Q", "L") or search.itemsize != 8:
            search = memoryview(np.ascontiguousarray(keys, dtype=np.uint64)).cast("B").cast("Q")
        count = len(keys)
        bits = min(24, (count // _PER_BUCKET).bit_length())
        if bits == 0:
            return cls(source, search, array("q", [0, count]), 64)
        shift = 64 - bits
        starts = np.arange(1 << bits, dtype=np.uint64) << np.uint64(shift)
        offsets = np.searchsorted(keys, starts)
        typecode = "I" if count < 2**32 else "q"  # "I" is 4 bytes on every CPython platform
        index = array(typecode)
        index.frombytes(offsets.astype(np.uint32 if typecode == "I" else np.int64).tobytes())
        index.append(count)
        return cls(source, search, index, shift)


@dataclass(frozen=True)
class Publication:
    """Every verified feed view, the hashing keys and freshness, as of one sync.

    ``views``: feed name -> `FeedView` (feeds that never synced are absent).
    ``hash_keys``: (epoch, consortium key) for every epoch the phone feeds carry,
    newest first. ``fresh_until``: feed name -> the last moment its data counts
    as fresh (the manifest's expiry or last successful sync + the stale window,
    whichever is first). Build it with `Publication.build`, which derives the
    lookup structures and reuses those of `previous` for unchanged data.
    """

    views: Mapping[str, FeedView]
    hash_keys: tuple[tuple[int, bytes], ...]
    fresh_until: Mapping[str, datetime]
    lookups: Mapping[str, SortedKeys] = field(repr=False)
    """Screened phone feed -> its searchable keys (only feeds with a view)."""
    macs: tuple[Any, ...] = field(repr=False)
    """A pre-keyed HMAC-SHA256 per entry of `hash_keys`: a check only copies it."""
    stale_from: float = field(repr=False)
    """POSIX time from which a screened feed that has a view is stale."""
    oblivious: ObliviousHasher | None = field(default=None, repr=False)
    """OPRF mode (issue 20): phone keys come from the hub's oblivious evaluation, and
    `hash_keys` is empty -- the device holds no consortium key."""

    @classmethod
    def build(
        cls,
        views: Iterable[FeedView],
        hash_keys: Iterable[tuple[int, bytes]],
        fresh_until: Mapping[str, datetime],
        previous: Publication | None = None,
        oblivious: ObliviousHasher | None = None,
    ) -> Publication:
        view_map = {v.feed: v for v in views}
        keys = tuple((int(e), bytes(k)) for e, k in hash_keys)
        lookups: dict[str, SortedKeys] = {}
        for feed in SCREENED_FEEDS:
            view = view_map.get(feed)
            if view is None:
                continue
            old = previous.lookups.get(feed) if previous is not None else None
            lookups[feed] = old if old is not None and old.source is view.keys \
                else SortedKeys.of_set(view.keys, old)
        if previous is not None and previous.hash_keys == keys:
            keys, macs = previous.hash_keys, previous.macs
        else:
            macs = tuple(hmac.new(k, digestmod=hashlib.sha256) for _, k in keys)
        stale_from = float("inf")
        for feed in lookups:
            # wire time has whole seconds: stale once utcnow() (truncated) passes `until`
            stale_from = min(stale_from, fresh_until.get(feed, NEVER_FRESH).timestamp() + 1)
        return cls(MappingProxyType(view_map), keys, MappingProxyType(dict(fresh_until)),
                   MappingProxyType(lookups), macs, stale_from, oblivious)

    @classmethod
    def empty(cls) -> Publication:
        return cls.build((), (), {})

    def is_stale(self, feed: str, now: datetime) -> bool:
        """Whether `feed` is missing, expired or not synced within the stale window."""
        return feed not in self.views or now > self.fresh_until.get(feed, NEVER_FRESH)

    def versions(self) -> dict[str, int]:
        return {feed: view.version for feed, view in self.views.items()}

    def phone_keys(self, e164: str) -> list[int]:
        """The 64-bit feed key of an E.164 number under each epoch's key, newest first.

        In OPRF mode the one key of the hub's current epoch, evaluated blinded (cached
        per number for the epoch); empty when the hub cannot evaluate it now.
        """
        if self.oblivious is not None:
            return self.oblivious.phone_keys(e164)
        message = _PHONE_PREFIX + e164.encode("ascii")
        out = []
        for base in self.macs:
            mac = base.copy()
            mac.update(message)
            out.append(int.from_bytes(mac.digest()[:8], "big"))
        return out

    def same_content(self, other: Publication) -> bool:
        """Whether `other` would answer every reader exactly as this one does."""
        return (
            self.hash_keys == other.hash_keys
            and self.oblivious is other.oblivious
            and dict(self.fresh_until) == dict(other.fresh_until)
            and self.views.keys() == other.views.keys()
            and all(self.views[f] is other.views[f] for f in self.views)
        )


__all__ = ["NEVER_FRESH", "SCREENED_FEEDS", "FeedView", "Publication", "SortedKeys"]
