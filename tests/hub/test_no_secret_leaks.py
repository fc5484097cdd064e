"""An attacker's reading of the logs and the database: after a busy session, no raw
phone number, password, token or key appears in either (docs/ARCHITECTURE.md §2, issue 2).

Everything runs through the real HTTP API with the hub's loggers at DEBUG, so any
code path that logs a request body, a header or an exception message is caught.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from client_sdk import hash_indicator
from hub.db import get_db
from hub.logs import dict_config
from schemas.keys import b64decode
from tests.helpers.hub import ADMIN_PASSWORD, ADMIN_USERNAME

RAW_PHONE = "13812345678"
RAW_E164 = "+8613812345678"
WRONG_PASSWORD = "not-the-password-0xBADC0FFEE"


def _all_stored_text(app: Any) -> str:
    """Every value of every row of every table, as text."""
    engine = get_db(app).engine
    meta = MetaData()
    meta.reflect(bind=engine)
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                chunks.extend(str(value) for value in row)
    return "\n".join(chunks)


def formatted(records: list[logging.LogRecord], fmt: str) -> str:
    """The records through the handler `hub.logs.dict_config` installs."""
    import io
    import logging.config

    stream = io.StringIO()
    config = dict_config("DEBUG", fmt)
    config["handlers"]["hub"]["stream"] = stream
    config["loggers"] = {"leak-check": {"handlers": ["hub"], "level": "DEBUG"}}
    config["root"] = {"level": "WARNING", "handlers": []}
    logging.config.dictConfig(config)
    handler = logging.getLogger("leak-check").handlers[0]
    try:
        for record in records:
            handler.handle(record)
    finally:
        logging.getLogger("leak-check").handlers.clear()
    return stream.getvalue()


def test_busy_session_leaves_no_secret_in_logs_or_database(
    live_hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member_id, key = live_hub.new_member()
    other_id, other_key = live_hub.new_member()

    consortium = live_hub.member(member_id, key, "GET", "/v1/consortium-key").json()
    hmac_key_b64 = consortium["keys"][0]["key"]
    hmac_key = b64decode(hmac_key_b64)
    epoch = consortium["current_epoch"]
    value = hash_indicator("phone", RAW_PHONE, hmac_key)

    token = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={}).json()["token"]
    assert live_hub.http.get(live_hub.url + "/v1/feeds", timeout=30,
                             headers={"Authorization": f"Bearer {token}"}).status_code == 200

    good = {"kind": "phone", "value": value, "category": "fraud", "confidence": 90,
            "key_epoch": epoch}
    raw = {**good, "value": RAW_PHONE}
    raw_e164 = {**good, "value": RAW_E164}
    for who, their_key in ((member_id, key), (other_id, other_key)):
        answer = live_hub.member(who, their_key, "POST", "/v1/reports",
                                 json={"reports": [good, raw, raw_e164]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1
        assert {e["index"] for e in answer.json()["errors"]} == {1, 2}
    dispute = {"kind": "phone", "value": RAW_PHONE, "reason": "our own collections line"}
    assert live_hub.member(member_id, key, "POST", "/v1/disputes", json=dispute).status_code == 422

    bad_login = live_hub.http.post(live_hub.url + "/v1/admin/login", timeout=30,
                                   json={"username": ADMIN_USERNAME, "password": WRONG_PASSWORD})
    assert bad_login.status_code == 401
    good_login = live_hub.http.post(live_hub.url + "/v1/admin/login", timeout=30,
                                    json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    admin_token = good_login.json()["token"]
    allow = live_hub.admin("POST", "/v1/admin/allowlist",
                           json={"raw_number": "+86 10 9558 8000", "note": "bank service line"})
    assert allow.status_code in (200, 201), allow.text

    # URLs carrying secrets: the access log names the route rule, never the raw target
    live_hub.http.get(live_hub.url + f"/v1/feeds?token={token}&n={RAW_PHONE}", timeout=30)
    live_hub.http.get(live_hub.url + f"/v1/no-such/{RAW_PHONE}", timeout=30)
    live_hub.http.get(live_hub.url + "/healthz", timeout=30, headers={"X-Request-ID": "leak-1"})

    secrets = {
        "raw phone": RAW_PHONE,
        "raw phone (E.164)": RAW_E164,
        "allowlisted raw number": "109558800",
        "admin password": ADMIN_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "reader token": token,
        "admin token": admin_token,
        "fixture admin token": live_hub.admin_token,
        "consortium key (base64)": hmac_key_b64,
        "consortium key (hex)": hmac_key.hex(),
    }
    # every line as the hub writes it (text and JSON formatters of hub/logs.py):
    # its own loggers at DEBUG, anything else from WARNING (hub.logs.dict_config);
    # the test's HTTP client's debug lines and werkzeug's raw request lines (off in
    # `serve`, replaced by hub.access) are not the hub's output
    emitted = [r for r in caplog.records if r.name.startswith("hub")
               or (r.levelno >= logging.WARNING and not r.name.startswith("urllib3"))]
    logs = "\n".join(r.getMessage() for r in emitted) + "".join(
        formatted(emitted, fmt) for fmt in ("text", "json"))
    assert "hub.access" in logs and "request_id=leak-1" in logs
    stored = _all_stored_text(live_hub.app)
    assert logs, "the hub logged nothing at DEBUG: the test would prove nothing"
    for name, secret in secrets.items():
        assert secret not in logs, f"{name} appears in the logs"
        assert secret not in stored, f"{name} is stored in the database"
    assert value in stored  # the hashed form is what the hub keeps
