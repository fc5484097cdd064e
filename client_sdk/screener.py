"""Call screening on synced feeds (docs/ARCHITECTURE.md §6).

A call screener runs on the hot path of an incoming call, so it does the
least work that gives the right answer: one phone normalisation (mainland
mobiles skip phonenumbers), one HMAC per consortium epoch (from a pre-keyed
HMAC object that is only copied), and a binary search in each feed's sorted
``uint64`` array. It never raises on bad input: a screener that crashes lets
the call through without a verdict, which is worse than a verdict that says
"unparseable".

Each check reads ``feed_client.publication`` once and answers from that
immutable `Publication` only (no lock, no waiting for a sync); `check` hashes
the number with the publication's keys and then takes the very lookup
`check_hashed` takes. What a screener derives per publication (pre-built
verdicts, its contacts' hashed keys) is rebuilt when the publication object
changes, under a lock that only that rebuild and `update_contacts` take.

Order of decisions (docs/ARCHITECTURE.md §6): the user's own feedback on a number
(`mark`: "spam" / "not spam", a local override that wins over the feeds), personal
contacts, consortium allowlist, block, warn, quiet hours (silence unknown callers),
allow.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left as _bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from time import time as _now
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

from client_sdk.publication import SCREENED_FEEDS, Publication, SortedKeys
from schemas.indicators import InvalidIndicator, normalize_phone
from schemas.timefmt import utcnow

ALLOW = "allow"
WARN = "warn"
BLOCK = "block"
SILENCE = "silence"

R_CONTACT = "contact"
R_ALLOWLIST = "consortium_allowlist"
R_BLOCK = "consortium_block"
R_WARN = "consortium_warn"
R_QUIET = "quiet_hours"
R_NO_MATCH = "no_match"
R_NO_DATA = "no_data"
R_STALE = "stale_data"
R_NO_KEY = "no_consortium_key"
R_UNPARSEABLE = "unparseable_number"
R_USER_SPAM = "user_spam"
R_USER_NOT_SPAM = "user_not_spam"

SPAM = "spam"
NOT_SPAM = "not_spam"
FEEDBACK_LABELS = (SPAM, NOT_SPAM)

_ANSWERS_BY_FEED = dict(zip(SCREENED_FEEDS, ((ALLOW, R_ALLOWLIST), (BLOCK, R_BLOCK),
                                              (WARN, R_WARN)), strict=True))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a call, and why.

    ``feed_version`` maps each consulted feed to the version that answered
    (``None`` when no feed was consulted); ``stale`` is true when a consulted
    feed is expired or missing, so the app can say "protection out of date".
    """

    action: str
    reasons: tuple[str, ...]
    categories: tuple[str, ...]
    feed_version: dict[str, int] | int | None
    stale: bool


_CONTACT = Verdict(ALLOW, (R_CONTACT,), (), None, False)
_FEEDBACK = {SPAM: Verdict(BLOCK, (R_USER_SPAM,), (), None, False),
             NOT_SPAM: Verdict(ALLOW, (R_USER_NOT_SPAM,), (), None, False)}


class FeedReader(Protocol):
    """The part of `FeedClient` the screener needs: its current publication.

    Reading the attribute is one reference load; `FeedClient` replaces the object
    as a whole, so a check that holds it sees one sync's state throughout.
    """

    @property
    def publication(self) -> Publication: ...


class _Answers:
    """Every verdict one publication can give, pre-built (fresh and stale variants).

    A check then allocates nothing but its hashes: verdicts are immutable and
    shared between calls (treat ``feed_version`` as read-only).
    """

    __slots__ = ("hits", "silence", "allow", "no_key_silence", "no_key_allow")

    def __init__(self, publication: Publication, stale: bool) -> None:
        views = publication.views
        versions = {f: int(views[f].version) for f in SCREENED_FEEDS if f in views}
        missing = len(versions) < len(SCREENED_FEEDS)
        stale = stale and bool(versions)
        notes = ((R_NO_DATA,) if missing else ()) + ((R_STALE,) if stale else ())
        stale = stale or missing

        def verdict(action: str, reason: str, *extra: str, force_stale: bool = False) -> Verdict:
            return Verdict(action, (reason, *extra, *notes), (), versions, stale or force_stale)

        hits: list[tuple[memoryview, array, int, frozenset[int] | None,
                         frozenset[int] | None, Verdict]] = []
        for feed in SCREENED_FEEDS:
            lookup: SortedKeys | None = publication.lookups.get(feed)
            if lookup is not None and len(lookup):  # an empty feed never answers
                hits.append((lookup.search, lookup.index, lookup.shift, lookup.extra or None,
                             lookup.gone or None, verdict(*_ANSWERS_BY_FEED[feed])))
        self.hits = tuple(hits)
        self.silence = verdict(SILENCE, R_QUIET)
        self.allow = verdict(ALLOW, R_NO_MATCH)
        self.no_key_silence = verdict(SILENCE, R_QUIET, R_NO_KEY, force_stale=True)
        self.no_key_allow = verdict(ALLOW, R_NO_MATCH, R_NO_KEY, force_stale=True)


class _Derived:
    """What one screener derived from one publication: its answers, hashed contacts and
    the user's feedback (canonical number → label, and hashed key → verdict)."""

    __slots__ = ("publication", "contacts", "contact_keys", "feedback", "feedback_keys",
                 "fresh", "stale")

    def __init__(self, publication: Publication, contacts: frozenset[str],
                 feedback: Mapping[str, str]) -> None:
        self.publication = publication
        self.contacts = contacts
        # OPRF mode: contacts and user marks match by E.164 before any key, so none is
        # evaluated here
        oblivious = publication.oblivious is not None
        self.contact_keys = frozenset() if oblivious else frozenset(
            k for e164 in contacts for k in publication.phone_keys(e164))
        self.feedback: Mapping[str, str] = MappingProxyType(dict(feedback))
        self.feedback_keys = {} if oblivious else {
            k: _FEEDBACK[label] for e164, label in feedback.items()
            for k in publication.phone_keys(e164)}
        self.fresh = _Answers(publication, stale=False)
        self.stale = _Answers(publication, stale=True)


def _parse_clock(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


class CallScreener:
    """Decide allow / warn / block / silence for an incoming number.

    ``contacts`` are the user's own numbers (raw, any format); entries that do
    not parse are ignored and counted in ``skipped_contacts``. ``quiet_hours``
    is a local wall-clock window ``("22:00", "08:00")`` that may cross
    midnight; during it, callers that are neither contacts nor allowlisted nor
    listed are silenced. Naive ``at`` datetimes are read as local time in
    ``timezone``; aware ones are converted.
    """

    def __init__(
        self,
        feed_client: FeedReader,
        contacts: Iterable[str] = (),
        quiet_hours: Sequence[str] | None = None,
        region: str = "CN",
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self._client = feed_client
        self._region = region
        self._tz = ZoneInfo(timezone)
        self._quiet: tuple[time, time] | None = None
        if quiet_hours is not None:
            start, end = (_parse_clock(t) for t in quiet_hours)
            if start == end:
                raise ValueError("quiet_hours start and end must differ")
            self._quiet = (start, end)
        contacts_e164, self.skipped_contacts = self._normalize_all(contacts)
        self._lock = threading.Lock()
        """Serialises only the rare re-derivation (new publication, new contacts)."""
        self._derived = _Derived(Publication.empty(), contacts_e164, {})

    # -- public API ---------------------------------------------------------

    def check(self, number: str, at: datetime | None = None) -> Verdict:
        """Screen a raw number as the phone received it."""
        publication = self._client.publication
        e164 = self._normalize(number)
        if e164 is None:
            if self._in_quiet_hours(at):
                return Verdict(SILENCE, (R_UNPARSEABLE, R_QUIET), (), None, False)
            return Verdict(ALLOW, (R_UNPARSEABLE,), (), None, False)
        derived = self._derived
        label = derived.feedback.get(e164)
        if label is not None:
            return _FEEDBACK[label]
        if e164 in derived.contacts:
            return _CONTACT
        return self._lookup(publication, publication.phone_keys(e164), at)

    def check_hashed(self, key64: int, at: datetime | None = None) -> Verdict:
        """Screen a number already reduced to its 64-bit feed key.

        For callers that hash elsewhere (a telecom switch, a benchmark); the
        key must come from an epoch the feeds carry.
        """
        return self._lookup(self._client.publication, (key64,), at)

    @property
    def contacts(self) -> frozenset[str]:
        """The normalised (E.164) contacts the screener lets through first."""
        return self._derived.contacts

    def update_contacts(self, contacts: Iterable[str]) -> None:
        """Replace the personal contacts (the address book changed); safe while screening."""
        normalized, skipped = self._normalize_all(contacts)
        with self._lock:
            derived = self._derived
            self._derived = _Derived(derived.publication, normalized, derived.feedback)
            self.skipped_contacts = skipped

    def mark(self, number: str, label: str | None) -> str:
        """Record the user's own judgement of a number: `"spam"` blocks it, `"not_spam"`
        allows it, whatever the feeds say (a local override for this user only);
        `None` clears it. Returns the canonical number, which `feedback` lists so the
        member's app can forward it as a report (`fraud` / `legit`) if it chooses.

        Unlike `check`, this raises `ValueError` for an unknown label or a number with
        no canonical form: it is called from the app's UI, not on the call path.
        """
        if label is not None and label not in FEEDBACK_LABELS:
            raise ValueError(f"label must be one of {FEEDBACK_LABELS} or None")
        e164 = self._normalize(number)
        if e164 is None:
            raise ValueError("not a phone number with a canonical form")
        with self._lock:
            derived = self._derived
            feedback = dict(derived.feedback)
            if label is None:
                feedback.pop(e164, None)
            else:
                feedback[e164] = label
            self._derived = _Derived(derived.publication, derived.contacts, feedback)
        return e164

    @property
    def feedback(self) -> Mapping[str, str]:
        """The user's marks: canonical number → `"spam"` | `"not_spam"` (read-only)."""
        return self._derived.feedback

    # -- internals ----------------------------------------------------------

    def _lookup(self, publication: Publication, keys: Sequence[int],
                at: datetime | None) -> Verdict:
        """The one decision path of `check` and `check_hashed`, on one publication."""
        derived = self._derived
        if derived.publication is not publication:
            derived = self._derive(publication)
        answers = derived.stale if _now() >= publication.stale_from else derived.fresh
        if not keys:
            verdict = answers.no_key_silence if self._in_quiet_hours(at) else answers.no_key_allow
            failure = publication.oblivious.last_failure if publication.oblivious else None
            if failure is not None:  # OPRF mode: say why (quota spent, hub unreachable)
                verdict = Verdict(verdict.action, (*verdict.reasons, failure), (),
                                  verdict.feed_version, True)
            return verdict
        feedback_keys = derived.feedback_keys
        if feedback_keys:
            for key in keys:
                verdict = feedback_keys.get(key)
                if verdict is not None:
                    return verdict
        contact_keys = derived.contact_keys
        if contact_keys and not contact_keys.isdisjoint(keys):
            return _CONTACT
        for sorted_keys, index, shift, extra, gone, verdict in answers.hits:
            for key in keys:
                if extra is not None and key in extra:  # added since the base file
                    return verdict
                bucket = key >> shift
                end = index[bucket + 1]
                i = _bisect_left(sorted_keys, key, index[bucket], end)
                if i < end and sorted_keys[i] == key and (gone is None or key not in gone):
                    return verdict
        if self._quiet is not None and self._in_quiet_hours(at):
            return answers.silence
        return answers.allow

    def _derive(self, publication: Publication) -> _Derived:
        """Answers and hashed contacts for a publication this screener has not seen yet."""
        with self._lock:
            derived = self._derived
            if derived.publication is not publication:
                derived = _Derived(publication, derived.contacts, derived.feedback)
                self._derived = derived
        return derived

    def _normalize_all(self, contacts: Iterable[str]) -> tuple[frozenset[str], int]:
        """The E.164 set of `contacts` and how many entries did not parse."""
        found: set[str] = set()
        skipped = 0
        for raw in contacts:
            e164 = self._normalize(raw)
            if e164 is None:
                skipped += 1
            else:
                found.add(e164)
        return frozenset(found), skipped

    def _normalize(self, raw: object) -> str | None:
        if not isinstance(raw, str):
            return None
        try:
            return normalize_phone(raw, region=self._region)
        except (InvalidIndicator, ValueError):
            return None
        except Exception:  # noqa: BLE001 - the call path must never raise
            return None

    def _in_quiet_hours(self, at: datetime | None) -> bool:
        if self._quiet is None:
            return False
        moment = utcnow() if at is None else at
        local = moment.astimezone(self._tz) if moment.tzinfo is not None else moment
        now = local.time().replace(tzinfo=None)
        start, end = self._quiet
        if start < end:
            return start <= now < end
        return now >= start or now < end


__all__: list[str] = [
    "FEEDBACK_LABELS", "NOT_SPAM", "SPAM", "CallScreener", "FeedReader", "Verdict",
]
