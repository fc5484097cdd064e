"""`POST /v1/oprf/evaluate` and `GET /v1/oprf/keys` over real HTTP (issue 20).

Driven as a screener and a bank would (through `client_sdk.oprf.ObliviousHasher`)
and as an attacker would (raw requests with malformed points, oversized batches,
a spent quota, a key swapped between epochs).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.exceptions import InvalidTag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk.member_client import MemberClient
from client_sdk.oprf import ObliviousHasher, OprfProofError, OprfQuotaError
from hub.db import get_db
from hub.models.oprf import OprfKey
from hub.services import key_rotation, oprf_keys
from hub.services.consortium_keys import config_wrapping_key, unseal
from schemas.indicators import hash_indicator, normalize
from schemas.keys import b64encode
from schemas.oprf import VoprfClient, evaluate_indicator, indicator_input
from schemas.oprf_wire import MAX_READER_ELEMENTS
from tests.helpers.hub import serve_hub

NUMBER = "+86 138 0013 8000"
CANON = normalize("phone", NUMBER)


def _bank(hub: Any) -> MemberClient:
    member_id, key = hub.new_member()
    return MemberClient(hub.url, key, member_id)


def _hub_key(hub: Any) -> tuple[int, bytes]:
    """The current epoch's OPRF private key, read from the hub's own store (test oracle)."""
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        epoch, server = oprf_keys.current_oprf_key(session,
                                                   config_wrapping_key(hub.app.config["LIANFANG"]))
        session.commit()
        return epoch, server._key


def _post(hub: Any, token: str, body: Any) -> requests.Response:
    return requests.post(hub.url + "/v1/oprf/evaluate", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def screener(live_hub: Any) -> tuple[Any, MemberClient, str]:
    bank = _bank(live_hub)
    return live_hub, bank, bank.mint_reader_token("phone")


def test_screener_obtains_the_value_the_hub_key_defines(screener: tuple[Any, Any, str]) -> None:
    hub, _, token = screener
    hasher = ObliviousHasher(hub.url, token=token)
    got = hasher.values("phone", [NUMBER])
    epoch, key = _hub_key(hub)
    assert got.epoch == epoch
    assert got.values == {CANON: evaluate_indicator("phone", CANON, key)}
    # the hasher holds no key of the hub
    state = repr(vars(hasher)) + repr(hasher._pinned) + repr(hasher._cache)
    assert key.hex() not in state and b64encode(key) not in state


def test_member_batch_equals_reader_singles(screener: tuple[Any, MemberClient, str]) -> None:
    hub, bank, token = screener
    numbers = [f"1380013{n:04d}" for n in range(300)]
    member = ObliviousHasher(hub.url, member_id=bank.member_id, private_key=bank._key)
    batch = member.values("phone", numbers)
    reader = ObliviousHasher(hub.url, token=token)
    for number in numbers[:3]:
        assert reader.values("phone", [number]).values == {
            normalize("phone", number): batch.values[normalize("phone", number)]}
    assert len(set(batch.values.values())) == len(numbers)
    _, phone_key = bank.consortium_key("phone")
    assert batch.values[normalize("phone", numbers[0])] != hash_indicator(
        "phone", numbers[0], phone_key)


def test_the_proof_binds_the_published_key(screener: tuple[Any, Any, str]) -> None:
    """A verifier holding another public key rejects the hub's evaluation."""
    hub, _, token = screener
    keys = requests.get(hub.url + "/v1/oprf/keys", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()
    assert keys["suite"] == "ristretto255-SHA512" and keys["mode"] == "voprf"
    public = base64.b64decode(keys["keys"][0]["public_key"])
    data = indicator_input("phone", CANON)
    blinded = VoprfClient(public).blind(data)
    answer = _post(hub, token, {"elements": [b64encode(blinded.element)]}).json()
    assert answer["epoch"] == keys["current_epoch"]
    evaluated = base64.b64decode(answer["evaluated"][0])
    proof = base64.b64decode(answer["proof"])
    VoprfClient(public).finalize(data, blinded.blind, evaluated, blinded.element, proof)
    from schemas.oprf import VerifyError, generate_key_pair
    with pytest.raises(VerifyError):
        VoprfClient(generate_key_pair().public_key).finalize(
            data, blinded.blind, evaluated, blinded.element, proof)


def test_a_changed_public_key_for_a_pinned_epoch_is_refused(screener: tuple[Any, Any, str]
                                                            ) -> None:
    hub, _, token = screener
    hasher = ObliviousHasher(hub.url, token=token)
    epoch = hasher.refresh_keys()
    from schemas.oprf import generate_key_pair
    hasher._pinned[epoch] = generate_key_pair().public_key  # what a tagging hub looks like
    with pytest.raises(OprfProofError):
        hasher.values("phone", [NUMBER])


IDENTITY = b64encode(bytes(32))
NON_CANONICAL = b64encode(b"\xff" * 32)


@pytest.mark.parametrize("element, needle", [
    (IDENTITY, "ristretto255"), (NON_CANONICAL, "ristretto255"),
    (b64encode(b"\x01" * 31), "base64"), ("not base64!", "base64"), (7, "base64"),
    (None, ""),
])
def test_malformed_points_are_422_naming_the_element(screener: tuple[Any, Any, str],
                                                     element: Any, needle: str) -> None:
    hub, _, token = screener
    good = b64encode(VoprfClient(_public(hub, token)).blind(b"x").element)
    answer = _post(hub, token, {"elements": [good, element]})
    assert answer.status_code == 422, answer.text
    fields = answer.json()["error"]["fields"]
    assert list(fields) == ["elements"] and list(fields["elements"]) == ["1"], fields
    assert needle in str(fields["elements"]["1"])


def _public(hub: Any, token: str) -> bytes:
    keys = requests.get(hub.url + "/v1/oprf/keys", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()
    return base64.b64decode(keys["keys"][0]["public_key"])


@pytest.mark.parametrize("body", [{}, {"elements": []}, {"elements": "x"}, [], {"elements": [1]},
                                  {"elements": None}])
def test_malformed_bodies_are_422(screener: tuple[Any, Any, str], body: Any) -> None:
    hub, _, token = screener
    answer = _post(hub, token, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


def test_reader_batches_are_bounded(screener: tuple[Any, Any, str]) -> None:
    hub, _, token = screener
    element = b64encode(VoprfClient(_public(hub, token)).blind(b"x").element)
    assert _post(hub, token, {"elements": [element] * MAX_READER_ELEMENTS}).status_code == 200
    answer = _post(hub, token, {"elements": [element] * (MAX_READER_ELEMENTS + 1)})
    assert answer.status_code == 422
    assert "elements" in answer.json()["error"]["fields"]


def test_unauthenticated_callers_are_refused(live_hub: Any) -> None:
    answer = requests.post(live_hub.url + "/v1/oprf/evaluate", json={"elements": [IDENTITY]},
                           timeout=30)
    assert answer.status_code == 401
    answer = requests.post(live_hub.url + "/v1/oprf/evaluate", json={"elements": [IDENTITY]},
                           headers={"Authorization": "Bearer lfr_forged"}, timeout=30)
    assert answer.status_code == 401


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(min_size=0, max_size=40).map(b64encode), st.text(max_size=50),
                          st.integers(), st.none()), min_size=1, max_size=5))
def test_no_input_gives_a_500(screener: tuple[Any, Any, str], elements: list[Any]) -> None:
    hub, _, token = screener
    answer = _post(hub, token, {"elements": elements})
    assert answer.status_code in (200, 422), answer.text


@pytest.fixture
def quota_hub(db_url: str, tmp_path: Path) -> Iterator[Any]:
    with serve_hub(db_url, tmp_path / "data", ratelimit_oprf_reader="5/day",
                   ratelimit_oprf_member="20/day") as hub:
        yield hub


def test_quota_counts_elements_and_answers_429_with_reset(quota_hub: Any) -> None:
    bank = _bank(quota_hub)
    token = bank.mint_reader_token()
    element = b64encode(VoprfClient(_public(quota_hub, token)).blind(b"x").element)
    assert _post(quota_hub, token, {"elements": [element] * 3}).status_code == 200
    refused = _post(quota_hub, token, {"elements": [element] * 3})  # 6 > 5: not counted
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 3600  # a daily quota, not a minute
    assert _post(quota_hub, token, {"elements": [element] * 2}).status_code == 200
    assert _post(quota_hub, token, {"elements": [element]}).status_code == 429
    # The screener's client reports the refusal as a quota, with the reset time.
    with pytest.raises(OprfQuotaError) as caught:
        ObliviousHasher(quota_hub.url, token=token).values("phone", [NUMBER])
    assert caught.value.retry_after_s and caught.value.retry_after_s > 3600
    # Another token of the same member has its own count; the member's signature its own.
    assert _post(quota_hub, bank.mint_reader_token(), {"elements": [element]}).status_code == 200
    member = ObliviousHasher(quota_hub.url, member_id=bank.member_id, private_key=bank._key)
    assert len(member.values("phone", [f"1390013{n:04d}" for n in range(20)]).values) == 20
    with pytest.raises(OprfQuotaError):
        member.values("phone", ["13700137000"])


def test_cached_numbers_cost_no_quota(quota_hub: Any) -> None:
    bank = _bank(quota_hub)
    hasher = ObliviousHasher(quota_hub.url, token=bank.mint_reader_token())
    first = hasher.values("phone", [NUMBER])
    for _ in range(10):
        assert hasher.values("phone", [NUMBER]) == first
    assert hasher.cached("phone", CANON) == first.values[CANON]


def test_rotation_gives_a_new_key_and_keeps_the_retiring_one_published(
        screener: tuple[Any, Any, str]) -> None:
    hub, _, token = screener
    hasher = ObliviousHasher(hub.url, token=token)
    before = hasher.values("phone", [NUMBER])
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        new_epoch = key_rotation.rotate(session, hub.app.config["LIANFANG"], actor="test")
        session.commit()
    after = ObliviousHasher(hub.url, token=token).values("phone", [NUMBER])
    assert after.epoch == new_epoch == before.epoch + 1
    assert after.values[CANON] != before.values[CANON]
    # the old object notices the rotation on its next miss and re-evaluates
    assert hasher.values("phone", ["13900139000"]).epoch == new_epoch
    keys = requests.get(hub.url + "/v1/oprf/keys", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()
    assert [(k["epoch"], k["state"]) for k in keys["keys"]] == [
        (new_epoch, "current"), (before.epoch, "retiring")]


def test_oprf_keys_are_sealed_and_bound_to_their_epoch(screener: tuple[Any, Any, str]) -> None:
    hub, _, _ = screener
    epoch, key = _hub_key(hub)
    with hub.app.app_context(), get_db(hub.app).new_session() as session:
        key_rotation.rotate(session, hub.app.config["LIANFANG"], actor="test")
        session.commit()
        wrap = config_wrapping_key(hub.app.config["LIANFANG"])
        old, new = session.get(OprfKey, epoch), session.get(OprfKey, epoch + 1)
        assert old is not None and new is not None
        assert key not in old.ciphertext and key not in old.nonce
        assert unseal(wrap, old.nonce, old.ciphertext, oprf_keys.oprf_aad(epoch)) == key
        with pytest.raises(InvalidTag):  # a ciphertext moved to another epoch never opens
            unseal(wrap, old.nonce, old.ciphertext, oprf_keys.oprf_aad(epoch + 1))


def test_a_stale_epoch_is_refused_not_silently_replaced(screener: tuple[Any, Any, str]) -> None:
    hub, _, token = screener
    element = b64encode(VoprfClient(_public(hub, token)).blind(b"x").element)
    epoch, _ = _hub_key(hub)
    assert _post(hub, token, {"elements": [element], "epoch": epoch}).status_code == 200
    stale = _post(hub, token, {"elements": [element], "epoch": epoch + 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "epoch_not_current"
    bad = _post(hub, token, {"elements": [element], "epoch": "1"})
    assert bad.status_code == 422 and "epoch" in bad.json()["error"]["fields"]


def test_tokens_per_member_are_capped_and_churn_does_not_free_slots(db_url: str,
                                                                   tmp_path: Path) -> None:
    with serve_hub(db_url, tmp_path / "data", reader_tokens_per_member=2) as hub:
        bank = _bank(hub)
        first = bank.create_reader_token()
        bank.create_reader_token()
        with pytest.raises(Exception) as caught:
            bank.create_reader_token()
        assert getattr(caught.value, "status", None) == 409
        assert getattr(caught.value, "code", None) == "token_limit"
        bank.revoke_reader_token(first["id"])  # a revoked token holds its slot for a day
        with pytest.raises(Exception) as again:
            bank.create_reader_token()
        assert getattr(again.value, "code", None) == "token_limit"
        assert len(_bank(hub).mint_reader_token()) > 10  # another member has its own cap


def _metric(text: str, caller: str) -> float:
    prefix = f'lianfang_oprf_evaluations_total{{caller="{caller}"}} '
    return sum(float(line[len(prefix):]) for line in text.splitlines()
               if line.startswith(prefix))


def test_evaluations_are_counted_in_metrics_by_caller(db_url: str, tmp_path: Path) -> None:
    with serve_hub(db_url, tmp_path / "data", metrics_access="addresses",
                   metrics_allowed="127.0.0.1") as hub:
        def read() -> str:
            answer = requests.get(hub.url + "/metrics", timeout=30)
            assert answer.status_code == 200
            return answer.text

        before = read()
        bank = _bank(hub)
        ObliviousHasher(hub.url, token=bank.mint_reader_token()).values(
            "phone", ["13800138000", "13900139000"])
        ObliviousHasher(hub.url, member_id=bank.member_id, private_key=bank._key).values(
            "phone", [f"1370013{n:04d}" for n in range(5)])
        after = read()
        assert _metric(after, "reader") - _metric(before, "reader") == 2
        assert _metric(after, "member") - _metric(before, "member") == 5
        assert "13800138000" not in after
