"""Admin login, lock-out and token expiry; passwords and tokens stored hashed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests
import time_machine
from sqlalchemy import select, text

from hub.db import get_db
from hub.models.admin import Admin
from hub.services.passwords import hash_password, verify_password
from schemas.timefmt import utcnow

PASSWORD = "correct horse battery staple 42"  # the conftest admin's password


def _login(hub: Any, password: str, username: str = "admin") -> requests.Response:
    return requests.post(
        hub.url + "/v1/admin/login", json={"username": username, "password": password}, timeout=30
    )


def test_login_gives_a_working_token(live_hub: Any) -> None:
    response = _login(live_hub, PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]
    assert token.startswith("lfa_")
    listed = requests.get(
        live_hub.url + "/v1/admin/members", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert listed.status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(live_hub: Any) -> None:
    wrong = _login(live_hub, "not the password")
    unknown = _login(live_hub, "whatever", username="mallory")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_lockout_after_five_failures_then_expires(live_hub: Any) -> None:
    for _ in range(5):
        assert _login(live_hub, "guess").status_code == 401
    locked = _login(live_hub, PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):
        assert _login(live_hub, PASSWORD).status_code == 200


def test_admin_token_expires_after_twelve_hours(live_hub: Any) -> None:
    with time_machine.travel(utcnow() + timedelta(hours=12, minutes=1), tick=True):
        response = live_hub.admin("GET", "/v1/admin/members")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert live_hub.admin("GET", "/v1/admin/members").status_code == 200


def test_logout_revokes_the_token(live_hub: Any) -> None:
    assert live_hub.admin("POST", "/v1/admin/logout").status_code == 204
    response = live_hub.admin("GET", "/v1/admin/members")
    assert response.status_code == 401


def test_no_raw_password_or_token_in_database(live_hub: Any) -> None:
    with get_db(live_hub.app).new_session(write=False) as session:
        admin = session.scalars(select(Admin)).one()
        assert admin.password_hash.startswith("scrypt$16384$8$1$")
        assert PASSWORD not in admin.password_hash
        hashes = session.execute(text("SELECT token_hash FROM admin_tokens")).scalars().all()
    assert hashes and live_hub.admin_token not in hashes
    assert all(len(h) == 64 for h in hashes)


def test_admin_actions_are_attributed_in_audit(live_hub: Any) -> None:
    member_id, _ = live_hub.new_member()
    with get_db(live_hub.app).new_session(write=False) as session:
        actor = session.execute(
            text("SELECT actor FROM audit_log WHERE action = 'member.approve' AND subject = :s"),
            {"s": member_id},
        ).scalar_one()
    assert actor == "admin:admin"


def test_password_hashing_round_trip() -> None:
    encoded = hash_password("s3cret pass")
    assert verify_password("s3cret pass", encoded)
    assert not verify_password("s3cret pasS", encoded)
    assert encoded != hash_password("s3cret pass")  # random salt
    assert not verify_password("x", "scrypt$99999999999$8$1$AA==$AA==")
    assert not verify_password("x", "garbage")
