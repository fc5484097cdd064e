"""Property: no JSON body sent to `POST /v1/applications` makes the hub answer 5xx."""

from __future__ import annotations

import json
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.envelope import public_key_raw
from schemas.keys import b64encode

_VALID_KEY = b64encode(public_key_raw(Ed25519PrivateKey.generate().public_key()))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = (
    json_values
    | st.sampled_from(["bank", "lender", "other", "BANK", "", " ", "\x00", _VALID_KEY, "a@b.cn"])
    | st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=300)
)
application_like = st.fixed_dictionaries(
    {},
    optional={
        "name": field_values,
        "kind": field_values,
        "registration_no": field_values,
        "contact_email": field_values | st.emails(),
        "public_key": field_values,
        "extra": json_values,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=json_values | application_like)
def test_random_bodies_never_cause_5xx(live_hub: Any, body: Any) -> None:
    response = requests.post(
        live_hub.url + "/v1/applications",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code < 500, response.text
    payload = response.json()
    if response.status_code == 201:
        assert payload["state"] == "pending" and payload["id"].startswith("mbr_")
    elif response.status_code == 409:  # an earlier example already holds this key
        assert payload["error"]["code"] == "identity_in_use"
    else:
        assert response.status_code in (400, 422)
        assert set(payload["error"]) == {"code", "message", "fields"}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(min_size=1, max_size=200).filter(lambda s: s.strip() and s.isprintable()),
    registration_no=st.text(min_size=1, max_size=64).filter(
        lambda s: s.strip() and s.isprintable()
    ),
)
def test_printable_names_are_accepted_and_stored_exactly(
    live_hub: Any, name: str, registration_no: str
) -> None:
    response = requests.post(
        live_hub.url + "/v1/applications",
        json={
            "name": name,
            "kind": "lender",
            "registration_no": registration_no,
            "contact_email": "risk@lender.example.cn",
            "public_key": b64encode(public_key_raw(Ed25519PrivateKey.generate().public_key())),
        },
        timeout=30,
    )
    if response.status_code == 409:  # one live membership per registration number
        assert response.json()["error"]["fields"] == {
            "registration_no": ["already used by a live membership"]
        }
        return
    assert response.status_code == 201, response.text
    shown = live_hub.admin("GET", f"/v1/admin/members/{response.json()['id']}").json()
    assert shown["name"] == name.strip()
    assert shown["registration_no"] == registration_no.strip()
