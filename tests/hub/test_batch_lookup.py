"""`POST /v1/indicators/lookup` over real HTTP: per value what the single lookup answers,
at most 10,000 values, and a rate limit that counts values rather than requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.member_client import MemberClient
from schemas.indicators import hash_indicator
from schemas.reports import MAX_LOOKUP_VALUES
from tests.helpers.hub import serve_hub

LISTED = ["13800138000", "13900139000", "+86 137 0013 7000"]
UNLISTED = ["13600136000", "13500135000"]


def _bank(hub: Any) -> MemberClient:
    member_id, key = hub.new_member()
    return MemberClient(hub.url, key, member_id)


@pytest.fixture
def reported(live_hub: Any) -> tuple[Any, MemberClient, MemberClient]:
    """Two banks; bank A reported LISTED, bank B will look things up."""
    a, b = _bank(live_hub), _bank(live_hub)
    assert a.report("phone", LISTED, "fraud", 90, wait=True).accepted == len(LISTED)
    return live_hub, a, b


def _single(hub: Any, client: MemberClient, value: str) -> tuple[int, dict[str, Any]]:
    _, key = client.consortium_key("phone")
    hashed = hash_indicator("phone", value, key)
    answer = hub.member(client.member_id, client._key, "GET", f"/v1/indicators/phone/{hashed}")
    return answer.status_code, answer.json()


def test_batch_answers_what_single_lookups_answer(reported: tuple[Any, MemberClient, Any]
                                                   ) -> None:
    hub, _, bank = reported
    values = [UNLISTED[0], *LISTED, UNLISTED[1], "not a number"]
    answers = bank.lookup("phone", values)
    assert [a["status"] for a in answers] == [404, 200, 200, 200, 404, 422]
    for value, answer in zip(values[:-1], answers[:-1], strict=True):
        status, single = _single(hub, bank, value)
        assert answer["status"] == status
        if status == 200:
            assert answer["listing"] == single
            assert "member" not in str(answer)  # never who reported it
        else:
            assert answer["error"] == single["error"]
    assert answers[-1]["error"]["code"] == "invalid_value"  # never sent


def test_one_malformed_item_answers_422_for_itself(reported: tuple[Any, MemberClient, Any]
                                                    ) -> None:
    hub, _, bank = reported
    _, key = bank.consortium_key("phone")
    good = hash_indicator("phone", LISTED[0], key)
    items = [{"kind": "phone", "value": good}, {"kind": "phone", "value": "13800138000"},
             {"kind": "nope", "value": good}, "not an object", {"kind": "phone", "value": good}]
    answer = hub.member(bank.member_id, bank._key, "POST", "/v1/indicators/lookup",
                        json={"items": items})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["status"] for r in body["results"]] == [200, 422, 422, 422, 200]
    assert body["results"][1]["error"]["fields"] == {"value": [
        body["results"][1]["error"]["fields"]["value"][0]]}
    assert "kind" in body["results"][2]["error"]["fields"]
    assert (body["count"], body["found"], body["invalid"]) == (5, 2, 3)
    assert "13800138000" not in answer.text  # a raw number is refused, never echoed


@pytest.mark.parametrize("items", [[], None, "x", [{"kind": "phone"}] * (MAX_LOOKUP_VALUES + 1)])
def test_envelope_is_validated_naming_items(reported: tuple[Any, MemberClient, Any],
                                            items: Any) -> None:
    hub, _, bank = reported
    answer = hub.member(bank.member_id, bank._key, "POST", "/v1/indicators/lookup",
                        json={"items": items})
    assert answer.status_code == 422, answer.text
    assert "items" in answer.json()["error"]["fields"]


def test_unsigned_or_pending_callers_are_refused(live_hub: Any) -> None:
    assert live_hub.http.post(live_hub.url + "/v1/indicators/lookup",
                              json={"items": []}, timeout=30).status_code == 401
    member_id, key = live_hub.new_member(approve=False)
    answer = live_hub.member(member_id, key, "POST", "/v1/indicators/lookup",
                             json={"items": [{"kind": "phone", "value": "a" * 64}]})
    assert answer.status_code == 403


def test_ten_thousand_values_in_one_signed_request(reported: tuple[Any, MemberClient, Any]
                                                    ) -> None:
    _, _, bank = reported
    values = [f"1380000{i:04d}" for i in range(MAX_LOOKUP_VALUES - 1)] + [LISTED[0]]
    sent: list[int] = []
    original = bank._request

    def counting(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if path == "/v1/indicators/lookup":
            sent.append(len(body["items"]))
        return original(method, path, body, **kw)

    bank._request = counting  # type: ignore[method-assign]
    answers = bank.lookup("phone", values)
    assert sent == [MAX_LOOKUP_VALUES]
    assert answers[-1]["status"] == 200 and {a["status"] for a in answers[:-1]} == {404}


@pytest.fixture
def budget_hub(tmp_path: Path) -> Iterator[Any]:
    with serve_hub(f"sqlite:///{tmp_path / 'hub.sqlite3'}", tmp_path / "data",
                   ratelimit_applications="100/hour", ratelimit_member_lookup="25/minute",
                   ratelimit_member_write="1000/minute") as hub:
        yield hub


def test_rate_limit_counts_values_not_requests(budget_hub: Any) -> None:
    bank = _bank(budget_hub)
    bank.max_retries = 0
    twenty = [f"1380013{i:04d}" for i in range(20)]
    assert len(bank.lookup("phone", twenty)) == 20  # one request, 20 of the 25
    refused = budget_hub.member(bank.member_id, bank._key, "POST", "/v1/indicators/lookup",
                                json={"items": [{"kind": "phone", "value": "a" * 64}] * 6})
    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert "member_lookup: 25 per 1 minute; this request counts 6" in message
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The refused 6 were not counted: exactly the 5 left still fit, then singles are out too.
    assert len(bank.lookup("phone", twenty[:5])) == 5
    _, key = bank.consortium_key("phone")
    single = budget_hub.member(bank.member_id, bank._key, "GET",
                               f"/v1/indicators/phone/{hash_indicator('phone', twenty[0], key)}")
    assert single.status_code == 429
    other = _bank(budget_hub)  # the budget is per member
    assert other.lookup("phone", twenty[:1])[0]["status"] == 404


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from(LISTED + UNLISTED + ["x", ""]), max_size=12))
def test_answers_follow_input_order(reported: tuple[Any, MemberClient, Any],
                                    picks: list[str]) -> None:
    """Whatever the mix and repeats, answer i is about value i."""
    _, _, bank = reported
    answers = bank.lookup("phone", picks)
    expected = [200 if p in LISTED else 404 if p in UNLISTED else 422 for p in picks]
    assert [a["status"] for a in answers] == expected
