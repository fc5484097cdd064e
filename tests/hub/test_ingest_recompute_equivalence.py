"""The bulk re-merge (`remerge.recompute`) stores exactly what `merge` says, on a real database.

`recompute` reads reports as plain Core rows, merges them in one pass and writes
changed listings and journal rows with driver-level `executemany`
(`hub.bulk_sql.bulk_write`). These tests hold it to the reference: for random report
sets, member weights and states, every stored listing equals `merge` over
`ReportView`s built from ORM-loaded reports, and the journal replays to exactly
the phone-feed membership the stored listings imply (no add of a present value,
no remove of an absent one), across successive recomputes that change listings;
and a burst of acknowledged batches merged by bounded, interleaved consumer
passes ends in the same listings and journal as merging everything from scratch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from hub.bulk_sql import bulk_write
from hub.db import get_db
from hub.feeds.journal import phone_feed
from hub.models.feed_change import FeedChange
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.models.report import MemberStanding, PendingMerge, Report, ReportBatch
from hub.services import membership, remerge
from hub.services.indicators import ensure_indicators
from hub.services.merge import MergePolicy, ReportView, merge
from schemas.envelope import public_key_raw
from schemas.keys import b64encode

POLICY = MergePolicy()

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MEMBERS = 4
VALUES = [f"{i:016x}" + "0" * 48 for i in range(1, 7)]  # distinct feed keys
CATEGORIES = ["fraud", "spoofing", "legit"]

report_st = st.tuples(
    st.integers(0, MEMBERS - 1),  # member
    st.integers(0, len(VALUES) - 1),  # indicator
    st.sampled_from(CATEGORIES),
    st.integers(1, 100),  # confidence
    st.integers(-90, 0),  # last_seen, days from now
    st.integers(-5, 200),  # expires_at, days from now
    st.sampled_from(["active", "active", "active", "retracted", "overturned"]),
)
round_st = st.tuples(
    st.lists(report_st, max_size=14),
    st.lists(st.sampled_from([1.0, 1.0, 0.5, 0.0]), min_size=MEMBERS, max_size=MEMBERS),
    st.integers(0, 40),  # days after NOW
)


def _members(session: Any) -> list[str]:
    ids = []
    for i in range(MEMBERS):
        key = Ed25519PrivateKey.generate()
        member = membership.apply(session, {
            "name": f"Equivalence Bank {i}", "kind": "bank", "registration_no": f"REG-EQ{i}",
            "contact_email": "security@bank.example.cn",
            "public_key": b64encode(public_key_raw(key.public_key()))})
        membership.transition(session, member.id, "approve", "admin:test")
        ids.append(member.id)
    session.flush()
    return ids


def _apply_round(session: Any, members: list[str], ids: list[int], rnd: Any) -> datetime:
    reports, weights, days = rnd
    now = NOW + timedelta(days=days)
    for member_id, weight in zip(members, weights, strict=True):
        standing = session.get(MemberStanding, member_id)
        if standing is None:
            session.add(MemberStanding(member_id=member_id, weight=weight, updated_at=now))
        else:
            standing.weight = weight
    for m, v, category, confidence, seen, expires, state in reports:
        last = now + timedelta(days=seen)
        row = session.scalars(select(Report).where(
            Report.member_id == members[m], Report.indicator_id == ids[v],
            Report.category == category)).first()
        if row is None:
            row = Report(member_id=members[m], indicator_id=ids[v], category=category,
                         key_epoch=1, updated_at=now)
            session.add(row)
        row.confidence = confidence
        row.first_seen = last - timedelta(days=1)
        row.last_seen = last
        row.expires_at = now + timedelta(days=expires)
        row.state = state
    session.flush()
    return now


def _expected(session: Any, indicator_id: int, now: datetime) -> Any:
    views = [
        ReportView(r.member_id, r.category, r.confidence, r.last_seen, r.expires_at, r.state,
                   r.first_seen)
        for r in session.scalars(select(Report).where(Report.indicator_id == indicator_id))
    ]
    weights = remerge.load_weights(session, (v.member_id for v in views))
    return merge(views, weights, POLICY, now)


def _check(session: Any, ids: list[int], now: datetime) -> None:
    session.expire_all()
    stored = {row.indicator_id: row for row in session.scalars(select(Listing))}
    assert set(stored) == set(ids)
    for indicator_id in ids:
        want, got = _expected(session, indicator_id, now), stored[indicator_id]
        assert (got.tier, got.allowlisted, got.allow_source, got.held) == (
            want.tier, want.allowlisted, want.allow_source, False)
        assert got.score == want.score
        assert got.categories == ",".join(want.categories)
        assert got.reporter_count == want.reporter_count
        assert (got.first_seen, got.last_seen, got.next_review_at) == (
            want.first_seen, want.last_seen, want.next_review_at)
    # The journal replays to the membership the stored listings imply.
    feeds: dict[str, set[str]] = {}
    for feed, value, op in session.execute(
        select(FeedChange.feed, FeedChange.value, FeedChange.op).order_by(FeedChange.id)
    ):
        present = feeds.setdefault(feed, set())
        assert (value in present) == (op == "remove"), (feed, value, op)
        (present.discard if op == "remove" else present.add)(value)
    implied: dict[str, set[str]] = {}
    for indicator_id in ids:
        indicator, listing = session.get(Indicator, indicator_id), stored[indicator_id]
        feed = phone_feed(indicator.kind, listing.tier, listing.allowlisted, listing.held)
        if feed is not None:
            implied.setdefault(feed.value, set()).add(indicator.value)
    assert {f: v for f, v in feeds.items() if v} == implied


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rounds=st.lists(round_st, min_size=1, max_size=3))
def test_bulk_recompute_stores_what_merge_says(hub_app, rounds) -> None:
    with hub_app.app_context(), get_db(hub_app).new_session() as session:
        members = _members(session)
        found = ensure_indicators(session, [("phone", v, 1) for v in VALUES])
        ids = [found[("phone", v)] for v in VALUES]
        try:
            for rnd in rounds:
                now = _apply_round(session, members, ids, rnd)
                remerge.recompute(session, ids, now, policy=POLICY)
                _check(session, ids, now)
        finally:
            session.rollback()  # every example starts from the empty database


def test_bulk_write_stores_the_same_text_as_sqlalchemy(hub_app) -> None:
    """The driver-level executemany binds through the column types exactly as
    `session.execute(insert, rows)` does (on SQLite: the same timestamp text)."""
    stamps = [NOW, NOW.replace(microsecond=0), NOW.astimezone(UTC) + timedelta(microseconds=7),
              datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]
    rows = [{"feed": "phone-block", "value": f"v{i}", "op": "add", "created_at": t}
            for i, t in enumerate(stamps)]
    with hub_app.app_context(), get_db(hub_app).new_session() as session:
        table = FeedChange.__table__
        session.execute(table.insert(), [{**r, "value": "sa-" + r["value"]} for r in rows])
        bulk_write(session, table.insert(), rows)
        raw = dict(session.execute(text("SELECT value, created_at FROM feed_changes")).all())
        typed = dict(session.execute(select(FeedChange.value, FeedChange.created_at)).all())
        for i, stamp in enumerate(stamps):
            assert raw[f"v{i}"] == raw[f"sa-v{i}"]
            assert typed[f"v{i}"] == typed[f"sa-v{i}"] == stamp
        session.rollback()


burst_st = st.lists(
    st.tuples(
        st.integers(0, MEMBERS - 1),
        st.lists(st.tuples(st.integers(0, len(VALUES) - 1), st.sampled_from(CATEGORIES),
                           st.integers(1, 100)), min_size=1, max_size=8),
        st.integers(0, 3),  # merge passes run after this batch
        st.integers(1, 4),  # each pass's size
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(burst=burst_st)
def test_feeds_after_a_burst_equal_a_merge_from_scratch(hub_app, burst) -> None:
    """Batches acknowledged through `submit_reports` and merged by bounded consumer
    passes interleaved with them (issue 15) leave exactly the listings and journal
    that merging every indicator from scratch gives."""
    from hub.services import ingest, merge_queue

    with hub_app.app_context(), get_db(hub_app).new_session() as session:
        members = _members(session)
        try:
            for who, items, passes, size in burst:
                reports = [{"kind": "phone", "value": VALUES[v], "category": c,
                            "confidence": conf, "key_epoch": 1} for v, c, conf in items]
                status, answer = ingest.submit_reports(
                    session, members[who], reports, now=NOW, idempotency_ttl_s=3600,
                    provenance=ingest.Provenance(body_sha256="0" * 64))
                assert status == 200 and answer["state"] == "accepted", answer
                for _ in range(passes):
                    merge_queue.merge_pass(session, policy=POLICY, now=NOW, limit=size)
            merge_queue.merge_pass(session, policy=POLICY, now=NOW, limit=10_000)
            ids = sorted(session.scalars(select(Listing.indicator_id)))
            assert session.scalar(select(func.count()).select_from(PendingMerge)) == 0
            _check(session, ids, NOW)  # stored listings == merge of the reports, journal too
            assert all(b.state == "merged" and b.pending == 0
                       for b in session.scalars(select(ReportBatch)))
        finally:
            session.rollback()
