"""MemberClient against the real hub over HTTP (docs/ARCHITECTURE.md §3, §4, §6)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from client_sdk.member_client import (
    HubError,
    MemberClient,
    ReportResult,
    batch_idempotency_key,
)
from schemas.indicators import hash_indicator, keyed_simhash64, simhash64
from schemas.timefmt import format_time, utcnow

PHONES = ["13800138000", "not a phone", "+86 139 0013 9000", "13700137000", "12", "13600136000"]


def approve(live_hub, member_id: str) -> None:
    response = live_hub.admin("POST", f"/v1/admin/members/{member_id}/approve", json={})
    assert response.status_code == 200, response.text


@pytest.fixture
def member(live_hub) -> MemberClient:
    client = MemberClient(live_hub.url, Ed25519PrivateKey.generate(), max_retries=2)
    client.apply("Bank of Tests", "bank", "REG-0001", "sec@bank.example.cn")
    approve(live_hub, client.member_id)
    return client


def report_batch_count(live_hub, member_id: str) -> int:
    from hub.db import get_db
    from hub.models.report import ReportBatch

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        return session.scalar(
            select(func.count()).select_from(ReportBatch).where(ReportBatch.member_id == member_id)
        )


def stored_report_count(live_hub, member_id: str) -> int:
    from hub.db import get_db
    from hub.models.report import Report

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        return session.scalar(
            select(func.count()).select_from(Report).where(Report.member_id == member_id)
        )


def test_apply_then_approval_then_me(live_hub) -> None:
    client = MemberClient(live_hub.url, Ed25519PrivateKey.generate())
    member_id = client.apply("Bank A", "bank", "REG-A", "sec@a.example.cn")
    assert client.member_id == member_id
    with pytest.raises(HubError) as refused:
        client.me()  # pending members can neither read nor submit
    assert refused.value.status in (401, 403)
    approve(live_hub, member_id)
    me = client.me()
    assert me["id"] == member_id and me["state"] == "approved"
    assert me["public_key"] == client.public_key_b64()


def test_apply_with_bad_fields_is_a_hub_error_not_retried(live_hub) -> None:
    client = MemberClient(live_hub.url, Ed25519PrivateKey.generate())
    with pytest.raises(HubError) as bad:
        client.apply("Bank A", "casino", "REG-A", "not-an-email")
    assert bad.value.status == 422
    assert {"kind", "contact_email"} <= set(bad.value.fields)
    assert client.member_id is None


def test_signed_call_without_member_id_fails_locally(live_hub) -> None:
    with pytest.raises(HubError) as err:
        MemberClient(live_hub.url, Ed25519PrivateKey.generate()).me()
    assert err.value.code == "no_member_id"


def test_wrong_key_is_refused(live_hub, member: MemberClient) -> None:
    impostor = MemberClient(live_hub.url, Ed25519PrivateKey.generate(), member.member_id)
    with pytest.raises(HubError) as err:
        impostor.me()
    assert err.value.status == 401


def test_consortium_key_and_reader_token(live_hub, member: MemberClient) -> None:
    epoch, key = member.consortium_key()
    assert epoch >= 1 and len(key) == 32
    assert member.consortium_keys()[epoch] == key
    assert member.consortium_key(refresh=True) == (epoch, key)
    token = member.mint_reader_token("screeners-floor-3")
    assert isinstance(token, str) and len(token) >= 20
    answer = requests.get(
        live_hub.url + "/v1/consortium-key",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json()["current_epoch"] == epoch


def test_report_maps_local_errors_to_caller_indexes(live_hub, member: MemberClient) -> None:
    result = member.report("phone", PHONES, "fraud", 90)
    assert result.accepted == 4
    assert set(result.errors) == {1, 4}
    assert all(isinstance(m, str) for m in result.errors.values())
    assert "1380013" not in str(result.errors)  # raw digits never echoed
    assert len(result.batch_ids) == 1
    assert stored_report_count(live_hub, member.member_id) == 4


def test_raw_values_never_leave_the_process(live_hub, member: MemberClient) -> None:
    epoch, key = member.consortium_key()
    member.report("phone", ["13800138000"], "fraud", 90)
    from hub.db import get_db
    from hub.models.indicator import Indicator

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        values = set(session.scalars(select(Indicator.value)))
    assert hash_indicator("phone", "13800138000", key) in values
    assert not any("138" in v and len(v) < 20 for v in values)


def test_hub_errors_are_mapped_through_batches(live_hub, member: MemberClient) -> None:
    client = MemberClient(live_hub.url, member._key, member.member_id, batch_size=2)
    future = format_time(utcnow() + timedelta(days=3))
    result = client.report("phone", PHONES, "fraud", 90, last_seen=future)
    assert result.accepted == 0
    assert set(result.errors) == set(range(len(PHONES)))
    assert isinstance(result.errors[1], str) and isinstance(result.errors[4], str)
    for index in (0, 2, 3, 5):
        assert "last_seen" in result.errors[index]
    assert result.batch_ids == []


def test_batches_split_and_all_counted(live_hub, member: MemberClient) -> None:
    client = MemberClient(live_hub.url, member._key, member.member_id, batch_size=2)
    numbers = [f"1390000{i:04d}" for i in range(7)]
    result = client.report("phone", numbers, "harassment", 60)
    assert result == ReportResult(7, {}, result.batch_ids)
    assert len(result.batch_ids) == 4
    assert report_batch_count(live_hub, member.member_id) == 4


def test_same_report_twice_is_two_batches_of_the_same_reports(
    live_hub, member: MemberClient
) -> None:
    """Two calls are two statements (a refresh), even with identical bytes."""
    first = member.report("phone", PHONES, "fraud", 90)
    second = member.report("phone", PHONES, "fraud", 90)
    assert second.accepted == first.accepted == 4
    assert second.batch_ids != first.batch_ids  # not a replay of the first batch
    assert report_batch_count(live_hub, member.member_id) == 2
    assert stored_report_count(live_hub, member.member_id) == 4  # re-reports update in place


def active_report_count(live_hub, member_id: str) -> int:
    from hub.db import get_db
    from hub.models.report import Report

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        return session.scalar(
            select(func.count()).select_from(Report)
            .where(Report.member_id == member_id, Report.state == "active")
        )


def test_report_retract_report_again_is_listed_again(live_hub, member: MemberClient) -> None:
    """The review's case: the third call used to be replayed as the first batch."""
    assert member.report("phone", ["13700137000"], "fraud", 90).accepted == 1
    assert member.retract("phone", ["13700137000"])["retracted"] == 1
    assert active_report_count(live_hub, member.member_id) == 0
    again = member.report("phone", ["13700137000"], "fraud", 90)
    assert again.accepted == 1 and again.batch_ids
    assert active_report_count(live_hub, member.member_id) == 1
    assert member.retract("phone", ["13700137000"])["retracted"] == 1  # it was active again


def test_daily_re_report_refreshes_last_seen(live_hub, member: MemberClient) -> None:
    from hub.db import get_db
    from hub.models.report import Report

    def last_seen() -> object:
        with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
            return session.scalar(select(Report.last_seen).where(
                Report.member_id == member.member_id))

    member.consortium_key()
    start = utcnow()
    with time_machine.travel(start, tick=True):
        member.report("phone", ["13700137000"], "fraud", 90)
        first = last_seen()
    with time_machine.travel(start + timedelta(days=1), tick=True):
        member.report("phone", ["13700137000"], "fraud", 90)
        second = last_seen()
    assert second - first >= timedelta(hours=23)


def test_idempotency_key_names_one_call() -> None:
    body = b'{"reports":[]}'
    assert batch_idempotency_key("m", "n1", body) == batch_idempotency_key("m", "n1", body)
    assert batch_idempotency_key("m", "n1", body) != batch_idempotency_key("m", "n2", body)
    assert batch_idempotency_key("m", "n1", body) != batch_idempotency_key("m2", "n1", body)
    assert batch_idempotency_key("m", "n1", body) != batch_idempotency_key("m", "n1", b"{}")


class FlakyProxy:
    """A real HTTP hop in front of the hub that fails the first requests on purpose.

    `plan(n)` returns what to do with the n-th request (0-based): `None` to
    forward, an int status to answer without forwarding, or `("drop", status)`
    to forward and then lose the hub's answer — the case idempotency exists for.
    """

    def __init__(self, upstream: str, plan: Callable[[int], object]) -> None:
        self.upstream = upstream
        self.plan = plan
        self.seen: list[str] = []
        self.keys: list[str | None] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                n = len(proxy.seen)
                proxy.seen.append(f"{self.command} {self.path}")
                proxy.keys.append(self.headers.get("Idempotency-Key"))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy.plan(n)
                if isinstance(action, int):
                    self._answer(action, b'{"error":{"code":"down","message":"x"}}', "0")
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                upstream = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )
                if isinstance(action, tuple):
                    self._answer(action[1], b"{}", "0")
                    return
                self._answer(upstream.status_code, upstream.content, None)

            def _answer(self, status: int, body: bytes, retry_after: str | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_factory(live_hub) -> Iterator[Callable[[Callable[[int], object]], FlakyProxy]]:
    made: list[FlakyProxy] = []

    def make(plan: Callable[[int], object]) -> FlakyProxy:
        made.append(FlakyProxy(live_hub.url, plan))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


def test_lost_answer_is_retried_and_applied_once(live_hub, member, proxy_factory) -> None:
    proxy = proxy_factory(lambda n: ("drop", 502) if n == 1 else (503 if n == 2 else None))
    client = MemberClient(proxy.url, member._key, member.member_id, max_retries=3)
    client.consortium_key()  # request 0, then cached: the proxy only sees report batches
    result = client.report("phone", PHONES, "fraud", 90)
    assert result.accepted == 4
    assert proxy.seen == ["GET /v1/consortium-key"] + ["POST /v1/reports"] * 3
    assert proxy.keys[1] is not None and proxy.keys[1] == proxy.keys[2] == proxy.keys[3]
    assert report_batch_count(live_hub, member.member_id) == 1
    # the next call with the same content is a new batch with a new key
    assert client.report("phone", PHONES, "fraud", 90, wait=True).accepted == 4
    assert proxy.keys[4] not in (None, proxy.keys[1])
    assert report_batch_count(live_hub, member.member_id) == 2


def test_retries_give_up_after_max_retries(live_hub, member, proxy_factory) -> None:
    proxy = proxy_factory(lambda n: 500)
    client = MemberClient(proxy.url, member._key, member.member_id, max_retries=2)
    with pytest.raises(HubError) as err:
        client.me()
    assert err.value.status == 500
    assert len(proxy.seen) == 3


def test_client_errors_are_not_retried(live_hub, proxy_factory) -> None:
    proxy = proxy_factory(lambda n: None)
    client = MemberClient(proxy.url, Ed25519PrivateKey.generate(), "m-unknown", max_retries=3)
    with pytest.raises(HubError) as err:
        client.me()
    assert err.value.status == 401
    assert len(proxy.seen) == 1


def test_non_idempotent_writes_are_not_retried_after_a_lost_answer(
    live_hub, member, proxy_factory
) -> None:
    proxy = proxy_factory(lambda n: ("drop", 502) if n == 0 else None)
    client = MemberClient(proxy.url, member._key, member.member_id, max_retries=3)
    with pytest.raises(HubError) as err:
        client.mint_reader_token()
    assert err.value.status == 502
    assert len(proxy.seen) == 1


def test_unreachable_hub(live_hub) -> None:
    client = MemberClient("http://127.0.0.1:9", Ed25519PrivateKey.generate(), max_retries=1)
    with pytest.raises(HubError) as err:
        client.apply("Bank", "bank", "REG", "a@b.example.cn")
    assert err.value.status is None and err.value.code == "unreachable"


def test_case_retract_and_dispute(live_hub, member: MemberClient) -> None:
    text = "我要投诉你们银行乱收费，必须退还全部利息并赔偿精神损失费，否则向银保监会投诉"
    answer = member.report_case(
        [("phone", "13800138000"), ("complaint_text", text), ("id_number", "11010519491231002X")],
        case_ref="C-2026-001",
    )
    assert answer  # the hub acknowledged the case
    from hub.db import get_db
    from hub.models.indicator import Indicator

    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        values = set(session.scalars(select(Indicator.value)))
    # The fingerprint is keyed with the identity key: without it, a guessed text
    # cannot be tested against what the hub stores.
    identity_key = member.consortium_key("complaint_text")[1]
    assert keyed_simhash64(text, identity_key) in values
    assert simhash64(text) not in values
    assert member.retract_case(answer["case_id"]) == {
        "case_id": answer["case_id"], "state": "retracted"}

    member.report("phone", ["13700137000"], "fraud", 90)
    assert stored_report_count(live_hub, member.member_id) >= 1
    retracted = member.retract("phone", ["13700137000", "13300133000"])
    assert retracted["retracted"] == 1

    dispute = member.dispute("phone", "13800138000", "this is our own customer-service line")
    assert dispute
    with pytest.raises(HubError) as err:
        member.dispute("phone", "13800138000", "short")
    assert err.value.status == 422 and "reason" in err.value.fields


def test_rate_limited_writes_are_retried(live_hub, member, proxy_factory) -> None:
    proxy = proxy_factory(lambda n: 429 if n < 2 else None)
    client = MemberClient(proxy.url, member._key, member.member_id, max_retries=3)
    token = client.mint_reader_token()
    assert token and len(proxy.seen) == 3


def test_bad_case_indicator_is_refused_before_sending(live_hub, member, proxy_factory) -> None:
    from schemas.indicators import InvalidIndicator

    proxy = proxy_factory(lambda n: None)
    client = MemberClient(proxy.url, member._key, member.member_id)
    client.consortium_key()
    assert proxy.seen == ["GET /v1/consortium-key"]
    with pytest.raises(InvalidIndicator):
        client.report_case([("phone", "13800138000"), ("id_number", "110105194912310021")])
    nothing = client.report("phone", ["nope", "12"], "fraud", 50)
    assert nothing == ReportResult(0, {0: nothing.errors[0], 1: nothing.errors[1]}, [])
    assert proxy.seen == ["GET /v1/consortium-key"]  # nothing was sent


def test_key_rotation_report_and_retract_across_epochs(live_hub, member: MemberClient) -> None:
    from hub import get_config
    from hub.db import get_db
    from hub.services.key_rotation import rotate

    old_epoch, old_key = member.consortium_key()
    assert member.report("phone", ["13700137000"], "fraud", 90).accepted == 1
    with live_hub.app.app_context(), get_db(live_hub.app).new_session() as session:
        rotate(session, get_config(live_hub.app), actor="test")
        session.commit()
    assert member.consortium_key() == (old_epoch, old_key)  # cached until refreshed
    new_epoch, new_key = member.consortium_key(refresh=True)
    assert new_epoch == old_epoch + 1 and new_key != old_key
    assert set(member.consortium_keys()) == {old_epoch, new_epoch}
    assert member.report("phone", ["13700137000"], "fraud", 90).accepted == 1
    # One call withdraws the reports made under both epochs.
    assert member.retract("phone", ["13700137000"])["retracted"] == 2


# ------------------------------------------------------- hub URL with a prefix

PREFIX = "/lianfang"


class PrefixProxy:
    """A real reverse-proxy hop serving the hub under `PREFIX`.

    `strip=True` forwards `/lianfang/v1/...` as `/v1/...` (a rewrite the
    signature cannot survive); `strip=False` forwards the request target
    unchanged to an upstream that serves the hub below the same prefix.
    """

    def __init__(self, upstream: str, *, strip: bool) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy.seen.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.startswith(PREFIX + "/"):
                    self._answer(404, b'{"error":{"code":"not_found","message":"x"}}', {})
                    return
                target = self.path[len(PREFIX):] if strip else self.path
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = requests.request(self.command, upstream + target, data=body,
                                          headers=headers, timeout=30, allow_redirects=False)
                keep = {k: v for k, v in answer.headers.items()
                        if k.lower() in ("content-type", "etag")}
                self._answer(answer.status_code, answer.content, keep)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{PREFIX}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mounted_hub(live_hub) -> Iterator[str]:
    """The same hub app served below PREFIX (what gunicorn's SCRIPT_NAME does)."""
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, DispatcherMiddleware(NotFound(), {PREFIX: live_hub.app}),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _feed_client(live_hub, url: str, member: MemberClient, state) -> object:
    from client_sdk.feed_client import FeedClient
    from hub.feeds.builder import build_feeds, keystore_for

    build_feeds(live_hub.app)
    with live_hub.app.app_context():
        root = keystore_for(live_hub.app).root_public_b64()
    return FeedClient(url, root, state, member_id=member.member_id, private_key=member._key)


def test_prefix_kept_by_the_proxy_signs_and_verifies(live_hub, member, mounted_hub,
                                                      tmp_path) -> None:
    """The correct deployment: the proxy forwards the original path, the hub serves the prefix.

    Both SDK signers sign `/lianfang/v1/...`, which is exactly the request
    target the hub receives, so signed writes, signed reads and member-signed
    feed sync all work.
    """
    proxy = PrefixProxy(mounted_hub, strip=False)
    try:
        client = MemberClient(proxy.url, member._key, member.member_id, max_retries=0)
        assert client.me()["id"] == member.member_id
        assert client.report("phone", ["13700137000"], "fraud", 90).accepted == 1
        feeds = _feed_client(live_hub, proxy.url, member, tmp_path / "state")
        results = feeds.sync()
        assert all(r.ok for r in results.values()), results
        assert any(p.startswith(f"{PREFIX}/v1/feeds/") for p in proxy.seen)
    finally:
        proxy.close()


def test_prefix_stripping_proxy_is_refused_as_bad_signature(live_hub, member,
                                                            tmp_path) -> None:
    """A proxy that rewrites the path breaks the signature: the hub must refuse.

    The signature binds the request target; accepting a different one would let
    a signed request be replayed against another path. Documented in
    docs/SDK.md, "Hub URL with a path prefix": forward the original path, or configure the SDK
    with the hub's internal URL.
    """
    proxy = PrefixProxy(live_hub.url, strip=True)
    try:
        client = MemberClient(proxy.url, member._key, member.member_id, max_retries=0)
        with pytest.raises(HubError) as refused:
            client.me()
        assert refused.value.status == 401 and refused.value.code == "bad_signature"
        feeds = _feed_client(live_hub, proxy.url, member, tmp_path / "state")
        results = feeds.sync()
        assert {r.error_code for r in results.values()} == {"fetch"}
        assert all("bad_signature" in (r.error or "") for r in results.values())
        # the same clients at the hub's internal URL are fine
        assert MemberClient(live_hub.url, member._key, member.member_id).me()
        direct = _feed_client(live_hub, live_hub.url, member, tmp_path / "direct")
        assert all(r.ok for r in direct.sync().values())
    finally:
        proxy.close()


class _Recorder(BaseHTTPRequestHandler):
    """Records the raw request target and headers of every request; answers `{}`."""

    seen: list[tuple[str, dict[str, str]]]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.seen.append((self.path, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_both_signers_sign_the_request_target_they_send() -> None:
    """MemberClient and the feed Fetcher sign the same target for the same URL."""
    from client_sdk.fetcher import Fetcher
    from client_sdk.request_auth import signed_headers_for_url, signed_path_of
    from schemas.keys import b64decode
    from schemas.signing import (
        HEADER_NONCE,
        HEADER_SIGNATURE,
        HEADER_TIMESTAMP,
        request_signing_bytes,
    )

    seen: list[tuple[str, dict[str, str]]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("R", (_Recorder,), {"seen": seen}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = Ed25519PrivateKey.generate()
    base = f"http://127.0.0.1:{server.server_port}{PREFIX}"
    target = "/v1/feeds/phone-block/manifest.json?a=1&b=x%20y"
    try:
        MemberClient(base, key, "mbr_0123456789abcdef", max_retries=0)._request("GET", target)
        Fetcher(base, member_id="mbr_0123456789abcdef", private_key=key).get(target)
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, _ in seen] == [PREFIX + target] * 2
    for path, headers in seen:
        message = request_signing_bytes("GET", path, headers[HEADER_TIMESTAMP],
                                        headers[HEADER_NONCE], b"", "mbr_0123456789abcdef")
        key.public_key().verify(b64decode(headers[HEADER_SIGNATURE]), message)
    # with the same clock and nonce the helper's headers are identical for one URL
    assert signed_path_of(base + target) == PREFIX + target
    one = signed_headers_for_url(key, "m", "get", base + target, b"", now=1, nonce="n" * 32)
    two = signed_headers_for_url(key, "m", "GET", base + target, b"", now=1, nonce="n" * 32)
    assert one == two
