"""Member webhooks (issue 19) over real HTTP: a real local receiver gets signed events
from the hub's delivery job, the SDK verifies them, failures are retried with backoff."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from client_sdk.member_client import HubError, MemberClient
from hub import get_config
from hub.db import get_db
from hub.models.webhook import WebhookDelivery
from hub.services.webhooks import deliver_due
from schemas.timefmt import utcnow
from schemas.webhook_signature import WebhookSignatureError
from tests.console.support import signed_in, translator
from tests.helpers.hub import LiveHub, serve_hub
from tests.hub.reports_support import hv, rep, report, signed


@dataclass
class Receiver:
    """A threaded http.server that records each POST and fails the first `fail` ones."""

    fail: int = 0
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.got.append((dict(self.headers.items()), body))
            failing = len(state.got) <= state.fail
            self.send_response(503 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hooks_hub(db_url: str, tmp_path: Path) -> Iterator[LiveHub]:
    with serve_hub(db_url, tmp_path / "data", webhook_allow_loopback_http=True,
                   webhook_backoff_s=30, webhook_max_attempts=4) as hub:
        yield hub


def _client(hub: LiveHub, member: tuple[str, Any]) -> MemberClient:
    return MemberClient(hub.url, member[1], member[0], max_retries=0)


def _deliver(hub: LiveHub, now: datetime | None = None) -> int:
    """One run of the scheduler's delivery job, at `now` (time is the only thing faked)."""
    return deliver_due(hub.app, get_config(hub.app), now)


def _outbox(hub: LiveHub) -> list[WebhookDelivery]:
    with get_db(hub.app).new_session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_tier_change_is_delivered_signed_and_verified(hooks_hub: LiveHub, receiver: Receiver
                                                      ) -> None:
    a, b = hooks_hub.new_member(), hooks_hub.new_member()
    client = _client(hooks_hub, a)
    hook = client.register_webhook(receiver.url)
    assert hook["id"].startswith("whk_") and hook["secret"].startswith("whsec_")
    assert [h["id"] for h in client.webhooks()] == [hook["id"]]
    assert "secret" not in client.webhooks()[0]  # shown once

    value = hv()
    raw_like = "13800138000"
    assert report(hooks_hub, a, [rep(value)]).status_code in (200, 201, 202)
    assert report(hooks_hub, b, [rep(value)]).status_code in (200, 201, 202)
    assert _deliver(hooks_hub) >= 1

    events = [client.verify_webhook(hook["secret"], h, body) for h, body in receiver.got]
    tiers = [e["data"] for e in events if e["type"] == "listing.tier_changed"]
    assert tiers[-1] == {"kind": "phone", "value": value, "old_tier": "warn", "new_tier": "block"}
    assert all(e["member_id"] == a[0] for e in events)
    assert all(raw_like.encode() not in body for _, body in receiver.got)
    # b registered no webhook: nothing was queued for it.
    assert {row.member_id for row in _outbox(hooks_hub)} == {a[0]}

    log = client.webhook_deliveries(hook["id"])
    assert log and all(d["state"] == "delivered" and d["last_status"] == 204 for d in log)

    # A forged or replayed delivery fails verification.
    headers, body = receiver.got[-1]
    with pytest.raises(WebhookSignatureError):
        client.verify_webhook("whsec_" + "0" * 64, headers, body)
    with pytest.raises(WebhookSignatureError):
        client.verify_webhook(hook["secret"], headers, body.replace(b"block", b"none!"))
    with pytest.raises(WebhookSignatureError):
        client.verify_webhook(hook["secret"], headers, body, tolerance_s=-1)


def test_failed_deliveries_retry_with_exponential_backoff(hooks_hub: LiveHub, receiver: Receiver
                                                          ) -> None:
    a = hooks_hub.new_member()
    client = _client(hooks_hub, a)
    hook = client.register_webhook(receiver.url)
    receiver.fail = 2
    report(hooks_hub, a, [rep(hv())])
    [queued] = _outbox(hooks_hub)

    start = utcnow()
    assert _deliver(hooks_hub, start) == 1  # 503
    [row] = _outbox(hooks_hub)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 503)
    assert row.next_attempt_at == start + timedelta(seconds=30)
    assert _deliver(hooks_hub, start + timedelta(seconds=29)) == 0  # not due yet

    second = start + timedelta(seconds=30)
    assert _deliver(hooks_hub, second) == 1  # 503 again: the wait doubles
    [row] = _outbox(hooks_hub)
    assert (row.attempts, row.next_attempt_at) == (2, second + timedelta(seconds=60))
    assert _deliver(hooks_hub, second + timedelta(seconds=59)) == 0

    assert _deliver(hooks_hub, second + timedelta(seconds=60)) == 1
    [row] = _outbox(hooks_hub)
    assert (row.id, row.state, row.attempts, row.last_status) == (queued.id, "delivered", 3, 204)
    assert len(receiver.got) == 3
    # Every attempt carries the same event, each freshly signed.
    assert len({body for _, body in receiver.got}) == 1
    for headers, body in receiver.got:
        client.verify_webhook(hook["secret"], headers, body)
    [entry] = client.webhook_deliveries(hook["id"])
    assert (entry["state"], entry["attempts"], entry["last_status"]) == ("delivered", 3, 204)


def test_gives_up_after_max_attempts_and_unreachable_endpoint(hooks_hub: LiveHub) -> None:
    a = hooks_hub.new_member()
    client = _client(hooks_hub, a)
    client.register_webhook("http://127.0.0.1:9/closed")  # discard port: connection refused
    report(hooks_hub, a, [rep(hv())])
    moment = utcnow()
    for _ in range(4):
        _deliver(hooks_hub, moment)
        moment += timedelta(hours=1)
    [row] = _outbox(hooks_hub)
    assert (row.state, row.attempts, row.last_status) == ("failed", 4, None)
    assert row.last_error == "ConnectionError"
    assert _deliver(hooks_hub, moment + timedelta(days=1)) == 0


def test_dispute_decision_and_weight_events(hooks_hub: LiveHub, receiver: Receiver) -> None:
    a, b, c = hooks_hub.new_member(), hooks_hub.new_member(), hooks_hub.new_member()
    secrets_of = {m[0]: _client(hooks_hub, m).register_webhook(receiver.url)["secret"]
                  for m in (a, c)}
    value = hv()
    report(hooks_hub, a, [rep(value)])
    report(hooks_hub, b, [rep(value)])
    opened = signed(hooks_hub, c, "POST", "/v1/disputes",
                    {"kind": "phone", "value": value, "reason": "our hotline, by contract"})
    assert opened.status_code == 202, opened.text
    decided = hooks_hub.admin("POST", f"/v1/admin/disputes/{opened.json()['id']}/resolve",
                              {"resolution": "delist", "reason": "checked with the carrier"})
    assert decided.status_code == 200, decided.text
    _deliver(hooks_hub)
    events = []
    for headers, body in receiver.got:
        member = json.loads(body)["member_id"]
        events.append(MemberClient.verify_webhook(secrets_of[member], headers, body))
    decisions = {(e["member_id"], e["data"]["state"]) for e in events
                 if e["type"] == "dispute.decided"}
    assert decisions == {(a[0], "delisted"), (c[0], "delisted")}  # reporter and opener
    weights = [e for e in events if e["type"] == "member.weight_changed"]
    assert [(e["member_id"], e["data"]["weight"]) for e in weights] == [(a[0], 0.5)]


@pytest.mark.parametrize("url, reason", [
    ("ftp://example.com/hook", "url"),
    ("http://example.com/hook", "https"),
    ("https://10.0.0.5/hook", "private"),
    ("https://127.0.0.1/hook", "private"),
    ("https://user:pw@example.com/hook", "credentials"),
    ("not a url", "url"),
    (7, "string"),
])
def test_bad_urls_are_422_naming_the_field(hooks_hub: LiveHub, url: object, reason: str) -> None:
    a = hooks_hub.new_member()
    answer = signed(hooks_hub, a, "POST", "/v1/webhooks", {"url": url})
    assert answer.status_code == 422, answer.text
    assert "url" in answer.json()["error"]["fields"]


def test_loopback_http_refused_without_the_test_setting(live_hub: LiveHub) -> None:
    a = live_hub.new_member()
    answer = signed(live_hub, a, "POST", "/v1/webhooks", {"url": "http://127.0.0.1:8080/x"})
    assert answer.status_code == 422 and "url" in answer.json()["error"]["fields"]


def test_members_cannot_see_or_delete_others_webhooks(hooks_hub: LiveHub, receiver: Receiver
                                                      ) -> None:
    a, b = hooks_hub.new_member(), hooks_hub.new_member()
    hook = _client(hooks_hub, a).register_webhook(receiver.url)
    bob = _client(hooks_hub, b)
    assert bob.webhooks() == []
    for call in (lambda: bob.delete_webhook(hook["id"]),
                 lambda: bob.webhook_deliveries(hook["id"])):
        with pytest.raises(HubError) as caught:
            call()
        assert caught.value.status == 404
    deleted = _client(hooks_hub, a).delete_webhook(hook["id"])
    assert deleted["id"] == hook["id"] and _client(hooks_hub, a).webhooks() == []
    report(hooks_hub, a, [rep(hv())])
    assert _outbox(hooks_hub) == []  # no webhook, no outbox rows


@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_console_shows_the_delivery_log(hooks_hub: LiveHub, receiver: Receiver, lang: str
                                        ) -> None:
    a = hooks_hub.new_member(name="招商测试银行")
    _client(hooks_hub, a).register_webhook(receiver.url)
    receiver.fail = 1
    report(hooks_hub, a, [rep(hv())])
    _deliver(hooks_hub)
    client, _ = signed_in(hooks_hub.app)
    page = client.get("/console/webhooks", headers={"Accept-Language": lang})
    assert page.status_code == 200
    t = translator(lang)
    assert t("Delivery log") in page.text and t("tier changed") in page.text
    assert t("pending") in page.text and "HTTP 503" in page.text
    assert "招商测试银行" in page.text and receiver.url in page.text
    if lang == "zh-CN":
        assert "投递记录" in page.text and 'lang="zh' in page.text


def test_suspended_members_are_told_nothing(hooks_hub: LiveHub, receiver: Receiver) -> None:
    a, b = hooks_hub.new_member(), hooks_hub.new_member()
    _client(hooks_hub, a).register_webhook(receiver.url)
    value = hv()
    report(hooks_hub, a, [rep(value)])
    _deliver(hooks_hub)
    before = len(receiver.got)
    assert before == 1
    suspended = hooks_hub.admin("POST", f"/v1/admin/members/{a[0]}/suspend",
                                json={"reason": "review"})
    assert suspended.status_code == 200, suspended.text
    report(hooks_hub, b, [rep(value)])  # a's listing changes, but a is suspended
    _deliver(hooks_hub)
    assert len(receiver.got) == before


def test_retention_purges_finished_deliveries_but_keeps_pending(hooks_hub: LiveHub,
                                                                receiver: Receiver) -> None:
    from hub.services.retention import purge

    a = hooks_hub.new_member()
    _client(hooks_hub, a).register_webhook(receiver.url)
    report(hooks_hub, a, [rep(hv())])
    _deliver(hooks_hub)  # delivered
    receiver.fail = 10**6
    report(hooks_hub, a, [rep(hv())])
    _deliver(hooks_hub)  # pending after a 503
    assert sorted(r.state for r in _outbox(hooks_hub)) == ["delivered", "pending"]
    config = get_config(hooks_hub.app)
    assert purge(hooks_hub.app, config).webhook_deliveries == 0  # younger than the window
    later = utcnow() + timedelta(days=config.retention.journal_days + 1)
    assert purge(hooks_hub.app, config, later).webhook_deliveries == 1
    assert [r.state for r in _outbox(hooks_hub)] == ["pending"]


def test_the_scheduler_job_delivers_and_survives_a_broken_database(
    hooks_hub: LiveHub, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    from hub.feeds import scheduler

    a = hooks_hub.new_member()
    _client(hooks_hub, a).register_webhook(receiver.url)
    report(hooks_hub, a, [rep(hv())])
    scheduler.run_webhooks(hooks_hub.app)  # what the `webhook-delivery` job calls
    assert [r.state for r in _outbox(hooks_hub)] == ["delivered"]
    with get_db(hooks_hub.app).new_session() as session:
        WebhookDelivery.__table__.drop(session.connection())
        session.commit()
    scheduler.run_webhooks(hooks_hub.app)  # logged, not raised into the scheduler thread
    assert "scheduled webhook delivery failed" in caplog.text


def test_a_member_may_register_at_most_five(hooks_hub: LiveHub, receiver: Receiver) -> None:
    a = hooks_hub.new_member()
    for n in range(5):
        answer = signed(hooks_hub, a, "POST", "/v1/webhooks", {"url": f"{receiver.url}/{n}"})
        assert answer.status_code == 201, answer.text
    sixth = signed(hooks_hub, a, "POST", "/v1/webhooks", {"url": receiver.url})
    assert sixth.status_code == 409 and sixth.json()["error"]["code"] == "too_many_webhooks"
    # Five webhooks, one change: five signed deliveries, each with its own secret.
    report(hooks_hub, a, [rep(hv())])
    assert _deliver(hooks_hub) == 5
    assert len({h["Lianfang-Webhook-Signature"] for h, _ in receiver.got}) == 5
