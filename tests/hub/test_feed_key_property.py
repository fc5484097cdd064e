"""Issue 13, item 1 as a property: the published phone feeds are a function of the listings.

Random sequences of reports, retractions, expiries (the clock moves), disputes and
admin allowlist changes over values that share their first 64 bits (the feed key)
are driven through the services in-process, on SQLite and PostgreSQL; after every
build, each phone feed as a screener rebuilds it from the artifacts on disk equals
the set the stored listings imply, and no feed key belongs to two indicators.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from client_sdk import trust
from hub import get_config
from hub.db import get_db
from hub.errors import ApiError
from hub.feeds import publisher as pub
from hub.feeds.builder import build_feeds
from hub.feeds.journal import phone_feed
from hub.models.dispute import Dispute
from hub.models.feed import FeedState
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.services import allowlist, disputes, ingest, membership, merge_queue
from hub.services.consortium_keys import config_wrapping_key
from schemas.enums import DisputeState, Feed
from schemas.envelope import public_key_raw
from schemas.keys import b64encode
from schemas.manifest import phone_key
from schemas.timefmt import format_time

PREFIXES = ["1" * 16, "2" * 16]
VALUES = [p + s * 48 for p in PREFIXES for s in "ab"]  # two values per feed key
PHONE_FEEDS = (Feed.PHONE_BLOCK.value, Feed.PHONE_WARN.value, Feed.PHONE_ALLOW.value)
MEMBERS = 3
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

value_st = st.sampled_from(VALUES)
member_st = st.integers(0, MEMBERS - 1)
step_st = st.one_of(
    st.tuples(st.just("report"), member_st, value_st, st.sampled_from(["fraud", "legit"]),
              st.integers(50, 100), st.integers(1, 72)),
    st.tuples(st.just("retract"), member_st, value_st),
    st.tuples(st.just("advance"), st.integers(1, 48)),
    st.tuples(st.just("dispute"), member_st, value_st),
    st.tuples(st.just("resolve"), st.sampled_from(["uphold", "delist"])),
    st.tuples(st.just("allow"), value_st),
    st.tuples(st.just("unallow"), value_st),
    st.tuples(st.just("build")),
)


def _members(session: Any) -> list[str]:
    ids = []
    for _ in range(MEMBERS):
        key = Ed25519PrivateKey.generate()
        digest = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()[:8]
        member = membership.apply(session, {
            "name": f"Property Bank {digest}", "kind": "bank", "registration_no": f"REG-{digest}",
            "contact_email": "security@bank.example.cn",
            "public_key": b64encode(public_key_raw(key.public_key()))})
        membership.transition(session, member.id, "approve", "admin:test")
        ids.append(member.id)
    return ids


def published(app: Any, session: Any, feed: str) -> set[int]:
    """The feed as a screener rebuilds it: snapshot + deltas from disk, set digest checked."""
    row = session.get(FeedState, feed)
    if row is None or row.manifest is None:
        return set()
    signed = json.loads(row.manifest)["signed"]
    paths = pub.feed_paths(get_config(app).feeds_dir, feed)
    refs = [signed["snapshot"], *signed["deltas"]]
    blobs = [paths.artifact(ref["path"]).read_bytes() for ref in refs]
    return {int(k) for k in trust.apply_key_artifacts(None, None, blobs, signed)}


def implied(session: Any) -> dict[str, set[int]]:
    """What the listings say: each phone indicator's feed by `phone_feed`, keyed by feed key."""
    want: dict[str, set[int]] = {feed: set() for feed in PHONE_FEEDS}
    rows = session.execute(
        select(Indicator.kind, Indicator.value, Indicator.feed_key, Listing.tier,
               Listing.allowlisted, Listing.held)
        .join(Listing, Listing.indicator_id == Indicator.id)
    )
    for kind, value, feed_key, tier, allowlisted, held in rows:
        feed = phone_feed(kind, tier, allowlisted, held)
        if feed is not None and feed_key is not None:
            want[feed.value].add(phone_key(value))
    return want


def _step(session: Any, members: list[str], step: tuple, now: datetime, cfg: Any) -> None:
    action = step[0]
    wrap = config_wrapping_key(cfg)
    if action == "report":
        _, who, value, category, confidence, hours = step
        item = {"kind": "phone", "value": value, "category": category,
                "confidence": confidence, "key_epoch": 1,
                "expires_at": format_time(now + timedelta(hours=hours))}
        status, _ = ingest.submit_reports(
            session, members[who], [item], provenance=ingest.Provenance(body_sha256="0" * 64),
            now=now, idempotency_ttl_s=cfg.idempotency_ttl_s)
        if status != 200:
            session.rollback()
            return
        merge_queue.merge_pass(session, policy=cfg.policy, now=now)  # what the consumer does
    elif action == "retract":
        ingest.retract_reports(session, members[step[1]], [{"kind": "phone", "value": step[2]}],
                               now=now, policy=cfg.policy)
    elif action == "dispute":
        disputes.open_dispute(session, "phone", step[2], "A contracted hotline number.",
                              member_id=members[step[1]], now=now, policy=cfg.policy,
                              max_open_per_member=cfg.max_open_disputes_per_member,
                              cooloff_days=cfg.dispute_cooloff_days)
    elif action == "resolve":
        open_id = session.scalar(
            select(func.min(Dispute.id)).where(Dispute.state == DisputeState.OPEN.value))
        if open_id is None:
            return
        disputes.resolve(session, open_id, step[1], "checked by the test", actor="admin:test",
                         now=now, policy=cfg.policy)
    elif action == "allow":
        allowlist.add(session, {"kind": "phone", "value": step[1], "key_epoch": 1,
                                "raw_number": None, "note": ""}, actor="admin:test", now=now,
                      policy=cfg.policy, wrap=wrap)
    elif action == "unallow":
        allowlist.remove(session, "phone", step[1], actor="admin:test", now=now,
                         policy=cfg.policy, wrap=wrap)
    session.commit()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step_st, min_size=1, max_size=18))
def test_phone_feeds_equal_what_the_listings_say(hub_app, steps) -> None:
    app = hub_app
    database = get_db(app)
    clock = app.extensions.setdefault("property_clock", {"now": START, "members": None})
    with app.app_context():
        if clock["members"] is None:
            with database.new_session(write=True) as session:
                clock["members"] = _members(session)
                session.commit()
        for step in [*steps, ("build",)]:
            if step[0] == "advance":
                clock["now"] += timedelta(hours=step[1])
                continue
            clock["now"] += timedelta(seconds=1)
            now = clock["now"]
            with time_machine.travel(now, tick=False):
                if step[0] == "build":
                    assert not build_feeds(app, now=now).busy
                    with database.new_session(write=False) as session:
                        want = implied(session)
                        for feed in PHONE_FEEDS:
                            assert published(app, session, feed) == want[feed], feed
                        keys = session.scalars(
                            select(Indicator.feed_key).where(Indicator.feed_key.is_not(None)))
                        keys = list(keys)
                        assert len(keys) == len(set(keys))
                    continue
                with database.new_session(write=True) as session:
                    try:
                        _step(session, clock["members"], step, now, get_config(app))
                    except ApiError:
                        session.rollback()
