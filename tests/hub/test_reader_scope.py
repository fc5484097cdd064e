"""Attack: a reader token pulled off a compromised call-screener device.

Every screener holds a reader token. The review used one to download the
complaint-groups feed (HMACs of ID-card numbers and e-mail addresses, an
enumerable space) and to reach case endpoints. Reader tokens now read the phone
feeds and what verifying them needs; complaint groups and cases need a signed
request of an approved member. Real hub over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import requests

from hub.feeds.builder import build_feeds
from tests.hub.hardening_support import Bearer, MemberSignature, mint_reader_token

GROUPS = "/v1/feeds/complaint-groups"


def _stolen_token(hub: Any) -> tuple[Bearer, MemberSignature]:
    member = hub.new_member()
    _, token = mint_reader_token(hub, *member)
    return Bearer(token), MemberSignature(*member)


def _get(hub: Any, path: str, auth: requests.auth.AuthBase) -> requests.Response:
    return hub.http.get(hub.url + path, auth=auth, timeout=30)


def test_reader_token_cannot_read_complaint_groups(live_hub: Any) -> None:
    build_feeds(live_hub.app)
    stolen, member = _stolen_token(live_hub)
    signed = _get(live_hub, f"{GROUPS}/manifest.json", member)
    assert signed.status_code == 200
    snapshot = signed.json()["signed"]["snapshot"]["path"]
    assert _get(live_hub, f"{GROUPS}/{snapshot}", member).status_code == 200

    for path in (f"{GROUPS}/manifest.json", f"{GROUPS}/{snapshot}"):
        answer = _get(live_hub, path, stolen)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "reader_scope"
        assert set(answer.json()) == {"error"}
    # the phone feeds stay readable: this is a scope, not a broken token
    assert _get(live_hub, "/v1/feeds/phone-block/manifest.json", stolen).status_code == 200


def test_reader_token_cannot_touch_cases(live_hub: Any) -> None:
    stolen, _ = _stolen_token(live_hub)
    answer = live_hub.http.post(live_hub.url + "/v1/cases", auth=stolen, timeout=30,
                                json={"indicators": []})
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "reader_scope"


def test_dead_token_on_member_endpoint_stays_401(live_hub: Any) -> None:
    """Out of scope (403) is only said to a live token; a made-up one learns nothing."""
    answer = live_hub.http.post(live_hub.url + "/v1/cases", auth=Bearer("lfr_" + "x" * 40),
                                timeout=30, json={})
    assert answer.status_code == 401
