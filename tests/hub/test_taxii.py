"""TAXII 2.1 (read-only) as a member's threat-intel platform polls it: `taxii2-client`
over HTTP against the real hub, every object checked by `stix2-validator`."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from tests.hub.exports_support import seed_lists
from tests.hub.hardening_support import mint_reader_token
from tests.hub.reports_support import signed

TAXII = "application/taxii+json;version=2.1"
TOKEN_PATTERN = re.compile(r"^\[x-lianfang-phone-token:value = '([0-9a-f]{64})'\]$")


def taxii_token(hub: Any, member: tuple[str, Any]) -> tuple[str, str]:
    minted = signed(hub, member, "POST", "/v1/reader-tokens",
                    {"label": "opencti", "scope": "taxii"})
    assert minted.status_code == 201, minted.text
    body = minted.json()
    assert body["token"].startswith("lft_") and body["scope"] == "taxii"
    return body["id"], body["token"]


def _collections(hub: Any, member_id: str, token: str) -> dict[str, Any]:
    server = Server(hub.url + "/taxii2/", user=member_id, password=token)
    root = server.default
    assert root is not None and TAXII in root.versions
    return {c.title: c for c in root.collections}


def test_taxii2_client_polls_both_lists_and_every_object_validates(live_hub: Any) -> None:
    tokens = seed_lists(live_hub)
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    collections = _collections(live_hub, member[0], token)
    assert set(collections) == {"Lianfang phone-block", "Lianfang phone-warn"}
    options = ValidationOptions(version="2.1", strict=False)
    for feed in ("phone-block", "phone-warn"):
        collection = collections[f"Lianfang {feed}"]
        assert collection.can_read and not collection.can_write
        paged = [obj for page in as_pages(collection.get_objects, per_request=2)
                 for obj in page.get("objects", [])]
        whole = collection.get_objects(limit=5000)
        assert whole["more"] is False
        assert paged == whole["objects"]
        for obj in paged:
            result = validate_instance(obj, options)
            assert result.is_valid, (obj, [str(e) for e in result.errors])
            assert not result.warnings, [str(w) for w in result.warnings]
        indicators = [o for o in paged if o["type"] == "indicator"]
        found = {TOKEN_PATTERN.match(o["pattern"]).group(1) for o in indicators}  # type: ignore[union-attr]
        assert found == tokens[feed]
        assert [o["type"] for o in paged[:2]] == ["identity", "extension-definition"]
        ext_id = paged[1]["id"]
        for obj in indicators:
            ext = obj["extensions"][ext_id]
            assert ext["feed"] == feed and ext["key_epoch"] == 1
            assert ext["phone_token"] in obj["pattern"]
            assert 0 <= obj["confidence"] <= 100
            assert obj.get("valid_until", "9") > obj["valid_from"]
    # The allowlisted token is in neither collection.
    everything = str([c.get_objects(limit=5000) for c in collections.values()])
    assert not any(v in everything for v in tokens["phone-allow"])


def test_manifest_headers_and_added_after(live_hub: Any) -> None:
    seed_lists(live_hub, blocked=4, warned=0, allowed=0)
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    block = _collections(live_hub, member[0], token)["Lianfang phone-block"]
    url = f"{live_hub.url}/taxii2/lianfang/collections/{block.id}/manifest/"
    auth = (member[0], token)
    first = requests.get(url, params={"limit": 3}, auth=auth, headers={"Accept": TAXII}, timeout=30)
    assert first.status_code == 200 and first.headers["Content-Type"] == TAXII
    page = first.json()
    assert page["more"] is True and len(page["objects"]) == 3 and page["next"]
    assert first.headers["X-TAXII-Date-Added-First"] == page["objects"][0]["date_added"]
    assert first.headers["X-TAXII-Date-Added-Last"] == page["objects"][-1]["date_added"]
    rest = requests.get(url, params={"next": page["next"]}, auth=auth, timeout=30).json()
    assert rest["more"] is False and len(rest["objects"]) == 3  # 2 static + 4 indicators
    ids = [o["id"] for o in page["objects"] + rest["objects"]]
    assert len(set(ids)) == 6
    last = rest["objects"][-1]["date_added"]
    after = requests.get(url, params={"added_after": last}, auth=auth, timeout=30)
    assert after.status_code == 200 and after.json() == {"more": False, "objects": []}
    assert "X-TAXII-Date-Added-First" not in after.headers
    # Bearer works as well as Basic.
    bearer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert bearer.status_code == 200 and len(bearer.json()["objects"]) == 6


def test_screener_reader_tokens_and_revoked_tokens_get_nothing(live_hub: Any) -> None:
    seed_lists(live_hub, blocked=1, warned=0, allowed=0)
    member = live_hub.new_member()
    _, reader = mint_reader_token(live_hub, *member)
    token_id, token = taxii_token(live_hub, member)
    url = live_hub.url + "/taxii2/"
    assert requests.get(url, timeout=30).status_code == 401
    assert "Basic" in requests.get(url, timeout=30).headers["WWW-Authenticate"]
    for presented in (reader, reader.replace("lfr_", "lft_"), token + "x", "lfa_" + token[4:]):
        answer = requests.get(url, auth=(member[0], presented), timeout=30)
        assert answer.status_code == 401, presented
        assert answer.json()["error"]["code"] == "invalid_token"
    # A TAXII token is not a screener token either.
    feeds = requests.get(live_hub.url + "/v1/consortium-key",
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert feeds.status_code == 401
    assert requests.get(url, auth=(member[0], token), timeout=30).status_code == 200
    revoked = signed(live_hub, member, "DELETE", f"/v1/reader-tokens/{token_id}")
    assert revoked.status_code == 200 and revoked.json()["scope"] == "taxii"
    assert requests.get(url, auth=(member[0], token), timeout=30).status_code == 401


def test_suspended_members_taxii_tokens_are_void(live_hub: Any) -> None:
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    live_hub.admin("POST", f"/v1/admin/members/{member[0]}/suspend", json={"reason": "review"})
    answer = requests.get(live_hub.url + "/taxii2/", auth=(member[0], token), timeout=30)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "member_not_approved"


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"limit": "5001"}, "limit"),
    ({"added_after": "yesterday"}, "added_after"), ({"added_after": "2026-01-01"}, "added_after"),
    ({"next": "../../etc"}, "next"), ({"next": "99999999999999999999.1"}, "next"),
    ({"next": "1.99999999999"}, "next"), ({"next": "1.-3"}, "next"),
    ({"match[type]": "indicator"}, "match[type]"),
])
def test_bad_paging_parameters_name_the_field(live_hub: Any, params: dict[str, str],
                                               field: str) -> None:
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    collection = _collections(live_hub, member[0], token)["Lianfang phone-block"]
    for endpoint in ("objects", "manifest"):
        answer = requests.get(
            f"{live_hub.url}/taxii2/lianfang/collections/{collection.id}/{endpoint}/",
            params=params, auth=(member[0], token), timeout=30)
        assert answer.status_code == 422, answer.text
        assert answer.headers["Content-Type"] == TAXII
        assert answer.json()["http_status"] == "422" and answer.json()["title"]
        assert field in answer.json()["error"]["fields"]


def test_minting_an_unknown_scope_names_the_field(live_hub: Any) -> None:
    member = live_hub.new_member()
    for scope in ("admin", "", 7, None):
        answer = signed(live_hub, member, "POST", "/v1/reader-tokens", {"scope": scope})
        assert answer.status_code == 422 and "scope" in answer.json()["error"]["fields"]


def test_any_page_size_pages_through_everything_once(live_hub: Any) -> None:
    seed_lists(live_hub, blocked=5, warned=0, allowed=0)
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    block = _collections(live_hub, member[0], token)["Lianfang phone-block"]
    whole = [o["id"] for o in block.get_manifest(limit=5000)["objects"]]
    assert len(whole) == 7

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(limit=st.integers(min_value=1, max_value=8))
    def pages(limit: int) -> None:
        seen = [o["id"] for page in as_pages(block.get_manifest, per_request=limit)
                for o in page.get("objects", [])]
        assert seen == whole

    pages()


def test_unknown_collection_is_404(live_hub: Any) -> None:
    member = live_hub.new_member()
    _, token = taxii_token(live_hub, member)
    answer = requests.get(f"{live_hub.url}/taxii2/lianfang/collections/nope/objects/",
                          auth=(member[0], token), timeout=30)
    assert answer.status_code == 404


def test_no_query_string_makes_a_500(live_hub: Any) -> None:
    member = live_hub.new_member()
    auth = (member[0], taxii_token(live_hub, member)[1])
    collection_id = next(iter(_collections(live_hub, *auth).values())).id
    url = f"{live_hub.url}/taxii2/lianfang/collections/{collection_id}/objects/"

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(params=st.dictionaries(st.sampled_from(["added_after", "limit", "next"]),
                                  st.text(max_size=30), max_size=3))
    def poll(params: dict[str, str]) -> None:
        answer = requests.get(url, params=params, auth=auth, timeout=30)
        assert answer.status_code in (200, 422), answer.text

    poll()
