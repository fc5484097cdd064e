"""Rate limits (hub/ratelimit.py): each scope trips at its configured limit with 429,
Retry-After and the JSON error shape, and only for the caller it belongs to.

Each test serves its own hub with tiny limits (SQLite: the counters live in the
limiter's storage, not in the database).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from hub import create_app
from hub.ratelimit import DEFAULT_LIMITS, build_limiter
from schemas.signing import HEADER_MEMBER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.helpers.hub import make_hub_app, serve_hub
from tests.hub.hardening_support import mint_reader_token


@pytest.fixture
def tiny_hub(tmp_path: Path) -> Iterator[Any]:
    with serve_hub(
        f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        tmp_path / "data",
        login=False,
        ratelimit_applications="3/hour",
        ratelimit_admin_login="2/minute",
        ratelimit_member_write="3/minute",
        ratelimit_member_read="2/minute",
        ratelimit_feed_read="2/minute",
    ) as hub:
        yield hub


def assert_limited(answer: requests.Response, max_retry_s: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert set(answer.json()) == {"error"}
    retry = int(answer.headers["Retry-After"])
    assert 1 <= retry <= max_retry_s


def _login(hub: Any) -> requests.Response:
    from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME

    return hub.http.post(hub.url + "/v1/admin/login", timeout=30,
                         json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})


def test_admin_login_per_address(tiny_hub: Any) -> None:
    assert [_login(tiny_hub).status_code for _ in range(2)] == [200, 200]
    assert_limited(_login(tiny_hub), 60)


def test_applications_per_address_then_window_expires(tiny_hub: Any) -> None:
    # Log in first (one of the two logins) so the admin can approve members later.
    tiny_hub.admin_token = _login(tiny_hub).json()["token"]
    with time_machine.travel(time.time(), tick=True) as traveller:
        tiny_hub.new_member()
        tiny_hub.new_member(approve=False)
        tiny_hub.new_member(approve=False)
        assert_limited(tiny_hub.apply(Ed25519PrivateKey.generate()), 3600)
        traveller.shift(3601)
        assert tiny_hub.apply(Ed25519PrivateKey.generate()).status_code == 201


def test_member_writes_and_reads_per_member(tiny_hub: Any) -> None:
    tiny_hub.admin_token = _login(tiny_hub).json()["token"]
    alice = tiny_hub.new_member()
    bob = tiny_hub.new_member()
    for _ in range(3):
        assert tiny_hub.member(*alice, "POST", "/v1/reader-tokens", json={}).status_code == 201
    assert_limited(tiny_hub.member(*alice, "POST", "/v1/reader-tokens", json={}), 60)
    # Reads have their own budget, and Bob's writes are untouched by Alice's.
    assert tiny_hub.member(*alice, "GET", "/v1/members/me").status_code == 200
    assert tiny_hub.member(*bob, "POST", "/v1/reader-tokens", json={}).status_code == 201
    assert tiny_hub.member(*alice, "GET", "/v1/reader-tokens").status_code == 200
    assert_limited(tiny_hub.member(*alice, "GET", "/v1/members/me"), 60)


def test_unsigned_junk_cannot_spend_a_members_quota(tiny_hub: Any) -> None:
    """The member limits count after the signature verifies, so knowing an id is not enough."""
    tiny_hub.admin_token = _login(tiny_hub).json()["token"]
    member_id, key = tiny_hub.new_member()
    forged = {HEADER_MEMBER: member_id, HEADER_TIMESTAMP: str(int(time.time())),
              HEADER_NONCE: "n" * 32, HEADER_SIGNATURE: "A" * 88}
    for _ in range(10):
        answer = tiny_hub.http.post(tiny_hub.url + "/v1/reader-tokens", headers=forged,
                                    json={}, timeout=30)
        assert answer.status_code == 401
    for _ in range(3):
        answer = tiny_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={})
        assert answer.status_code == 201


def test_feed_reads_per_reader_token(tiny_hub: Any) -> None:
    tiny_hub.admin_token = _login(tiny_hub).json()["token"]
    member_id, key = tiny_hub.new_member()
    _, first = mint_reader_token(tiny_hub, member_id, key)
    _, second = mint_reader_token(tiny_hub, member_id, key)

    def read(token: str) -> requests.Response:
        return tiny_hub.http.get(tiny_hub.url + "/v1/feeds", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    assert [read(first).status_code for _ in range(2)] == [200, 200]
    assert_limited(read(first), 60)
    assert read(second).status_code == 200
    # A signed member read counts under the member, not under its tokens.
    assert tiny_hub.member(member_id, key, "GET", "/v1/consortium-key").status_code == 200


def test_limits_are_per_client_address(tmp_path: Path) -> None:
    app = make_hub_app(f"sqlite:///{tmp_path / 'hub.sqlite3'}", tmp_path / "data",
                       ratelimit_admin_login="1/minute")
    body = {"username": "nobody", "password": "wrong password"}
    one = app.test_client()
    one.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.2"
    assert one.post("/v1/admin/login", json=body).status_code == 401
    assert one.post("/v1/admin/login", json=body).status_code == 429
    assert other.post("/v1/admin/login", json=body).status_code == 401


def test_switched_off_and_scope_off(tmp_path: Path) -> None:
    app = make_hub_app(f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path / "a",
                       ratelimit_admin_login="1/minute", ratelimit_enabled="off")
    client = app.test_client()
    body = {"username": "nobody", "password": "wrong password"}
    assert {client.post("/v1/admin/login", json=body).status_code for _ in range(3)} == {401}
    app = make_hub_app(f"sqlite:///{tmp_path / 'b.sqlite3'}", tmp_path / "b",
                       ratelimit_admin_login="")
    client = app.test_client()
    assert {client.post("/v1/admin/login", json=body).status_code for _ in range(3)} == {401}


def test_defaults_and_malformed_settings(tmp_path: Path) -> None:
    app = create_app({"data_dir": tmp_path, "scheduler": False})
    limiter = app.extensions["lianfang_ratelimit"]
    assert limiter.enabled
    for scope, text in DEFAULT_LIMITS.items():
        item = limiter.limits[scope]
        assert item is not None
        assert f"{item.amount}/{item.GRANULARITY.name}" == text
    with pytest.raises(ValueError, match="LIANFANG_RATELIMIT_FEED_READ"):
        create_app({"data_dir": tmp_path, "scheduler": False, "ratelimit_feed_read": "lots"})
    cfg = app.config["LIANFANG"].with_overrides({"ratelimit_member_write": "5/second"})
    built = build_limiter(cfg)
    assert built.limits["member_write"].amount == 5


def test_storage_uri_errors_and_a_dead_redis_fails_open(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LIANFANG_RATELIMIT_STORAGE_URI"):
        create_app({"data_dir": tmp_path, "scheduler": False,
                    "ratelimit_storage_uri": "bogus://nowhere"})
    # Nothing listens on port 1: counting fails, the request is still served.
    app = make_hub_app(f"sqlite:///{tmp_path / 'hub.sqlite3'}", tmp_path / "data",
                       ratelimit_storage_uri="redis://127.0.0.1:1",
                       ratelimit_admin_login="1/minute")
    client = app.test_client()
    body = {"username": "nobody", "password": "wrong password"}
    assert [client.post("/v1/admin/login", json=body).status_code for _ in range(2)] == [401, 401]


def test_trusted_proxy_hops_give_the_real_client_address(tmp_path: Path) -> None:
    """Behind one declared proxy, limits follow X-Forwarded-For; a spoofed extra hop
    in front of it is not believed, and without the setting the header is ignored."""
    body = {"username": "nobody", "password": "wrong password"}
    app = make_hub_app(f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path / "a",
                       ratelimit_admin_login="1/minute", trusted_proxies="1")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    first = {"X-Forwarded-For": "198.51.100.7"}
    assert client.post("/v1/admin/login", json=body, headers=first).status_code == 401
    assert client.post("/v1/admin/login", json=body, headers=first).status_code == 429
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert client.post("/v1/admin/login", json=body, headers=other).status_code == 401
    spoofed = {"X-Forwarded-For": "203.0.113.99, 198.51.100.7"}
    assert client.post("/v1/admin/login", json=body, headers=spoofed).status_code == 429

    plain = make_hub_app(f"sqlite:///{tmp_path / 'b.sqlite3'}", tmp_path / "b",
                         ratelimit_admin_login="1/minute")
    direct = plain.test_client()
    direct.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    assert direct.post("/v1/admin/login", json=body, headers=first).status_code == 401
    assert direct.post("/v1/admin/login", json=body, headers=other).status_code == 429
    with pytest.raises(ValueError, match="LIANFANG_TRUSTED_PROXIES"):
        create_app({"data_dir": tmp_path, "scheduler": False, "trusted_proxies": "two"})


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_redis_storage_shares_counters_between_workers(tmp_path: Path) -> None:
    """Two app instances (two gunicorn workers) on one redis count together."""
    if not _redis_answers():
        pytest.skip("no redis server answers on 127.0.0.1:6379")
    import secrets

    body = {"username": "nobody", "password": "wrong password"}
    # a fresh /64 per run (an IPv6 /64 is one client), so earlier runs' counts never meet
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    apps = [
        make_hub_app(f"sqlite:///{tmp_path / f'{i}.sqlite3'}", tmp_path / str(i),
                     ratelimit_admin_login="2/minute",
                     ratelimit_storage_uri="redis://127.0.0.1:6379/0")
        for i in range(2)
    ]
    clients = [app.test_client() for app in apps]
    for client in clients:
        client.environ_base["REMOTE_ADDR"] = address
    codes = [clients[i % 2].post("/v1/admin/login", json=body).status_code for i in range(3)]
    assert codes == [401, 401, 429]


@given(st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
def test_every_address_of_one_ipv6_64_shares_one_bucket(address: int, host: int) -> None:
    """Per-address limits count an IPv6 /64 as one client (an attacker rotating source
    addresses inside it gains nothing); IPv4 and IPv4-mapped addresses count alone."""
    import ipaddress

    from hub.ratelimit import address_bucket

    one = ipaddress.IPv6Address(address)
    other = ipaddress.IPv6Address((address >> 64 << 64) | host)
    if one.ipv4_mapped is None:
        assert address_bucket(str(one)) == address_bucket(str(other))
        neighbour = ipaddress.IPv6Address(address ^ (1 << 64))
        if neighbour.ipv4_mapped is None:
            assert address_bucket(str(neighbour)) != address_bucket(str(one))
    v4 = ipaddress.IPv4Address(address % 2**32)
    assert address_bucket(str(v4)) == str(v4) == address_bucket(f"::ffff:{v4}")
