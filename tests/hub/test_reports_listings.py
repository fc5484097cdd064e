"""Listings over time: decay and expiry via remerge_due, epoch retirement, incremental merge."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select, update

from hub import get_config
from hub.db import get_db
from hub.models.consortium import ConsortiumKey
from hub.models.indicator import Indicator
from hub.models.listing import Listing
from hub.services.key_rotation import retire_epoch
from hub.services.merge import MergePolicy
from hub.services.remerge import recompute, remerge_due
from schemas.timefmt import utcnow
from tests.hub.reports_support import hv, journal, journal_head, listing, rep, report

POLICY = MergePolicy()


def _listing_row(hub, value: str) -> Listing:
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        return session.scalars(
            select(Listing).join(Indicator, Indicator.id == Listing.indicator_id)
            .where(Indicator.value == value)
        ).one()


def test_decay_moves_block_to_warn_at_next_review(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    value, steady = hv(), hv()
    report(live_hub, a, [rep(value, confidence=60), rep(steady, confidence=90)])
    report(live_hub, b, [rep(value, confidence=60)])
    row = _listing_row(live_hub, value)
    assert row.tier == "block" and row.next_review_at is not None
    due_at = row.next_review_at
    assert utcnow() + timedelta(days=1) < due_at < utcnow() + timedelta(days=30)

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        assert remerge_due(session, due_at - timedelta(minutes=5), policy=POLICY) == 0
        session.commit()
    with time_machine.travel(due_at, tick=True):
        head = journal_head(live_hub)
        with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
            assert remerge_due(session, utcnow(), policy=POLICY) == 1  # `steady` is not due yet
            session.commit()
        assert listing(live_hub, a, value)["tier"] == "warn"
        assert journal(live_hub, head) == [
            ("phone-block", value, "remove"),
            ("phone-warn", value, "add"),
        ]


def test_retired_epoch_leaves_the_feeds(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    blocked, warned = hv(), hv()
    report(live_hub, a, [rep(blocked), rep(warned, confidence=85)])
    report(live_hub, b, [rep(blocked)])
    head = journal_head(live_hub)
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        session.execute(update(ConsortiumKey).where(ConsortiumKey.epoch == 1)
                        .values(state="retired"))
        assert retire_epoch(session, 1, policy=get_config(live_hub.app).policy) == 2
        session.commit()
    assert sorted(journal(live_hub, head)) == sorted([
        ("phone-block", blocked, "remove"),
        ("phone-warn", warned, "remove"),
    ])
    head = journal_head(live_hub)
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        ids = list(session.scalars(select(Indicator.id)))
        recompute(session, ids, policy=POLICY)
        session.commit()
    assert journal(live_hub, head) == []
    refused = report(live_hub, a, [rep(hv())])
    assert refused.status_code == 422
    assert "retired" in str(refused.json()["errors"][0]["fields"]["key_epoch"])


def test_recomputing_unchanged_reports_journals_nothing(live_hub) -> None:
    a, b = live_hub.new_member(), live_hub.new_member()
    values = [hv() for _ in range(30)]
    report(live_hub, a, [rep(v) for v in values])
    report(live_hub, b, [rep(v, confidence=40) for v in values[:10]])
    head = journal_head(live_hub)
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        ids = list(session.scalars(select(Indicator.id)))
        recompute(session, ids, policy=POLICY)  # scores drift with decay; feed membership must not
        session.commit()
    assert journal(live_hub, head) == []
    assert listing(live_hub, a, values[0])["tier"] == "block"
    assert listing(live_hub, a, values[20])["tier"] == "warn"


def test_policy_numbers_come_from_configuration(db_url, tmp_path) -> None:
    """A live hub whose policy needs three members: two members' reports only warn."""
    from hub import get_config
    from tests.helpers.hub import serve_hub

    with serve_hub(db_url, tmp_path / "data", policy_block_min_members="3",
                   policy_half_life_days=7) as hub:
        assert get_config(hub.app).policy == MergePolicy(block_min_members=3, half_life_days=7.0)
        a, b, c = hub.new_member(), hub.new_member(), hub.new_member()
        value = hv()
        report(hub, a, [rep(value)])
        report(hub, b, [rep(value)])
        assert listing(hub, a, value)["tier"] == "warn"
        report(hub, c, [rep(value)])
        assert listing(hub, a, value)["tier"] == "block"
