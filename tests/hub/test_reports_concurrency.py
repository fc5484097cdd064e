"""Concurrent batches: the same Idempotency-Key sent at once is stored once; no 500s."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from hub.models.report import Report, ReportBatch
from tests.hub.reports_support import count, hv, journal, listing, rep, report


def test_same_key_at_once_is_stored_once(live_hub) -> None:
    a = live_hub.new_member()
    batch = [rep(hv()) for _ in range(50)]
    key = {"Idempotency-Key": "concurrent-1"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: report(live_hub, a, batch, headers=key), range(4)))
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert len({r.json()["batch_id"] for r in answers}) == 1
    assert count(live_hub, ReportBatch) == 1
    assert count(live_hub, Report) == 50


def test_members_reporting_the_same_new_numbers_at_once(live_hub) -> None:
    members = [live_hub.new_member() for _ in range(3)]
    values = [hv() for _ in range(40)]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda m: report(live_hub, m, [rep(v) for v in values]), members))
    assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
    assert count(live_hub, Report) == 120
    assert listing(live_hub, members[0], values[0])["reporter_count"] == 3
    # The journal replays to the final state: no add of a present value, no
    # remove of an absent one, and every value ends in phone-block only.
    feeds: dict[str, set[str]] = {}
    for feed, value, op in journal(live_hub):
        present = feeds.setdefault(feed, set())
        if op == "add":
            assert value not in present
            present.add(value)
        else:
            assert value in present
            present.remove(value)
    assert feeds["phone-block"] == set(values)
    assert not feeds.get("phone-warn")
