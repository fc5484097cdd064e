"""Input limits (hub/limits.py): every hostile body gets a 4xx in bounded time and memory.

The attacker's tests: gzip bombs, deep nesting, huge numbers, NaN, oversized
bodies, batches and pages, long strings, query strings and path parameters,
and artifact names that try to leave the feed directory.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import secrets
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import ApiError
from hub.limits import (
    MAX_BATCH_REPORTS,
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARS,
    MAX_PAGE_SIZE,
    MAX_PATH_PARAM_CHARS,
    MAX_PUBLIC_BODY_BYTES,
    MAX_QUERY_STRING_BYTES,
    has_escaped_nul,
    json_depth,
    parse_json,
)

# --- the depth scanner ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n\u4e2d', max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), children, max_size=3),
    max_leaves=30,
)


def true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((true_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_json_depth_matches_the_parsed_structure(
    value: Any, ensure_ascii: bool, indent: Any
) -> None:
    """Brackets and escaped quotes inside strings never fool the pre-scan."""
    raw = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode("utf-8")
    assert json_depth(raw) == true_depth(value)


@settings(max_examples=300, deadline=None)
@given(value=json_values, chunk=st.integers(min_value=1, max_value=9))
def test_json_depth_is_the_same_whatever_the_scan_slices(value: Any, chunk: int) -> None:
    """A string, an escape or a backslash run cut across two scan slices keeps its meaning."""
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert json_depth(raw, chunk) == json_depth(raw) == true_depth(value)


def test_parse_json_refuses_deep_nesting_before_parsing() -> None:
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert true_depth(parse_json(ok)) == MAX_JSON_DEPTH
    for deep in (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b"[" * 1_000_000):
        with pytest.raises(ApiError) as caught:
            parse_json(deep)
        assert (caught.value.status, caught.value.code) == (400, "json_too_deep")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": ' + b"9" * (MAX_JSON_NUMBER_CHARS + 1) + b"}",
        b'{"n": ' + b"9" * 5000 + b"}",
        b'{"n": 1e999}',
        b'{"n": NaN}',
        b'{"n": -Infinity}',
        b'{"n": "\xff"}',
        b'{"n": ',
    ],
)
def test_parse_json_refuses_number_bombs_and_garbage(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(raw)
    assert caught.value.status == 400


def test_parse_json_keeps_ordinary_numbers() -> None:
    assert parse_json(b'{"a": 100, "b": -2.5e3, "c": 12345678901234567890}') == {
        "a": 100,
        "b": -2500.0,
        "c": 12345678901234567890,
    }


# --- over HTTP ---------------------------------------------------------------------------


def _error(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]


def _post_raw(hub: Any, path: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        hub.url + path,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )


def test_gzip_bodies_are_refused_not_decompressed(live_hub: Any) -> None:
    """A 10 MB-of-zeros bomb (~10 KB on the wire) is a 415, and so is honest gzip."""
    bomb = gzip.compress(b"0" * 10_000_000)
    assert len(bomb) < 50_000
    for body in (bomb, gzip.compress(b"{}")):
        for encoding in ("gzip", "deflate", "br", "GZIP, identity"):
            answer = _post_raw(live_hub, "/v1/applications", body, **{"Content-Encoding": encoding})
            assert answer.status_code == 415, (encoding, answer.text)
            assert _error(answer) == "unsupported_content_encoding"
    plain = _post_raw(live_hub, "/v1/applications", b"{}", **{"Content-Encoding": "identity"})
    assert plain.status_code == 422


def test_deep_json_and_number_bombs_over_http(live_hub: Any) -> None:
    deep = b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    answer = _post_raw(live_hub, "/v1/applications", deep)
    assert (answer.status_code, _error(answer)) == (400, "json_too_deep")
    huge = b'{"name": ' + b"1" * 4000 + b"}"
    answer = _post_raw(live_hub, "/v1/applications", huge)
    assert (answer.status_code, _error(answer)) == (400, "invalid_json")


def test_body_over_the_limit_is_413(live_hub: Any) -> None:
    limit = live_hub.app.config["MAX_CONTENT_LENGTH"]
    answer = _post_raw(live_hub, "/v1/applications", b" " * (limit + 1))
    assert (answer.status_code, _error(answer)) == (413, "body_too_large")


def test_batch_over_the_limit_is_422(live_hub: Any) -> None:
    member = live_hub.new_member()
    item = {"kind": "phone", "value": secrets.token_hex(32), "category": "fraud",
            "confidence": 50, "key_epoch": 1}
    answer = live_hub.member(*member, "POST", "/v1/reports",
                             json={"reports": [item] * (MAX_BATCH_REPORTS + 1)})
    assert answer.status_code == 422, answer.text
    assert "reports" in answer.json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/v1/admin/allowlist", "/v1/admin/conflicts",
                                  "/v1/admin/groups", "/v1/admin/disputes"])
def test_page_size_and_offset_are_capped(live_hub: Any, path: str) -> None:
    assert live_hub.admin("GET", f"{path}?limit={MAX_PAGE_SIZE}").status_code == 200
    for query in (f"limit={MAX_PAGE_SIZE + 1}", "offset=99999999999999999999999", "limit=0"):
        answer = live_hub.admin("GET", f"{path}?{query}")
        assert answer.status_code == 422, (query, answer.text)


def test_every_string_in_every_request_schema_has_a_max_length() -> None:
    """The OpenAPI request schemas are the loaded marshmallow schemas: each string is bounded."""
    from hub.api.openapi import build_spec

    spec = build_spec()
    schemas = spec["components"]["schemas"]
    unbounded = []
    for name, schema in schemas.items():
        if schema.get("additionalProperties") is not False:  # answers, not requests
            continue
        for prop, described in schema.get("properties", {}).items():
            if described.get("type") == "string" and "maxLength" not in described \
                    and "enum" not in described:
                unbounded.append(f"{name}.{prop}")
    assert not unbounded


def test_strings_over_their_max_are_422(live_hub: Any) -> None:
    answer = live_hub.http.post(live_hub.url + "/v1/applications", json={
        "name": "x" * 201, "kind": "bank", "registration_no": "R" * 65,
        "contact_email": "a@b.cn", "public_key": "k" * 65}, timeout=30)
    assert answer.status_code == 422
    assert {"name", "registration_no", "public_key"} <= set(answer.json()["error"]["fields"])


def test_long_query_strings_and_path_parameters(live_hub: Any) -> None:
    answer = live_hub.admin("GET", "/v1/admin/members?state=" + "a" * MAX_QUERY_STRING_BYTES)
    assert (answer.status_code, _error(answer)) == (414, "uri_too_long")
    answer = live_hub.admin("GET", "/v1/admin/members/" + "m" * (MAX_PATH_PARAM_CHARS + 1))
    assert answer.status_code == 404
    assert _error(answer) == "not_found"


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fkeys%2Fmaster.key",
        "%2E%2E%2F%2E%2E%2Fhub.sqlite3",
        "../../hub.sqlite3",
        "0" * 64 + ".lfa%00.json",
        "0" * 63 + ".lfa",
        ("0" * 64).upper() + ".lfa",
    ],
)
def test_artifact_names_cannot_leave_the_feed_directory(live_hub: Any, name: str) -> None:
    member_id, key = live_hub.new_member()
    answer = live_hub.member(member_id, key, "GET", f"/v1/feeds/phone-block/artifacts/{name}")
    assert answer.status_code == 404, answer.text
    assert b"sqlite" not in answer.content.lower()
    assert live_hub.member(member_id, key, "GET",
                           "/v1/feeds/..%2F..%2Fkeys/manifest.json").status_code == 404


# --- NUL characters (PostgreSQL text cannot hold them) -----------------------------------

nul_texts = st.text(alphabet="\x00\\u0a\"", max_size=12)


@settings(max_examples=300, deadline=None)
@given(value=st.lists(nul_texts | st.dictionaries(nul_texts, nul_texts, max_size=2), max_size=3),
       ensure_ascii=st.booleans())
def test_escaped_nul_detection_matches_the_parsed_strings(value: Any, ensure_ascii: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8")

    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)
        elif isinstance(node, dict):
            for key, item in node.items():
                yield key
                yield from strings(item)

    assert has_escaped_nul(raw) == any("\x00" in s for s in strings(value))


def test_nul_in_bodies_and_paths_is_refused_on_every_database(live_hub: Any) -> None:
    """Each of these was a 500 on PostgreSQL before the edge checks."""
    member = live_hub.new_member()
    value = secrets.token_hex(32)
    bodies = [
        ("member", "POST", "/v1/reports", {"reports": [
            {"kind": "phone", "value": value, "category": "fraud", "confidence": 50,
             "key_epoch": 1, "case_ref": "x\x00"}]}),
        ("member", "POST", "/v1/cases", {
            "case_ref": "x\x00", "key_epoch": 1, "observed_at": "2026-01-01T00:00:00Z",
            "indicators": [{"kind": "phone", "value": value},
                           {"kind": "phone", "value": secrets.token_hex(32)}]}),
        ("admin", "POST", "/v1/admin/allowlist",
         {"kind": "phone", "value": value, "key_epoch": 1, "note": "x\x00y"}),
    ]
    for who, method, path, body in bodies:
        answer = (live_hub.member(*member, method, path, json=body) if who == "member"
                  else live_hub.admin(method, path, json=body))
        assert answer.status_code == 422, (path, answer.text)
        assert "NUL" in answer.json()["error"]["message"]
    for method, path in (("GET", "/v1/admin/members/%00abc"),
                         ("POST", "/v1/admin/members/ab%00/approve")):
        answer = live_hub.admin(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 404, (path, answer.text)
    answer = live_hub.member(*member, "DELETE", "/v1/reader-tokens/x%00y")
    assert answer.status_code == 404, answer.text
    # Literal text "\u0000" (an escaped backslash) is not a NUL and is stored fine.
    answer = live_hub.admin("POST", "/v1/admin/allowlist",
                            json={"kind": "phone", "value": value, "key_epoch": 1,
                                  "note": "see \\u0000 in the manual"})
    assert answer.status_code in (200, 201), answer.text


def test_integer_path_parameters_out_of_range_are_404(live_hub: Any) -> None:
    """Found by `make fuzz`: a 27-digit dispute id overflowed the SQL integer (500)."""
    for dispute_id in ("371145220551305200698130432", str(2**31), str(2**63)):
        answer = live_hub.admin("POST", f"/v1/admin/disputes/{dispute_id}/resolve",
                                json={"resolution": "uphold", "reason": "out of range"})
        assert answer.status_code == 404, (dispute_id, answer.text)
    answer = live_hub.admin("POST", f"/v1/admin/disputes/{2**31 - 1}/resolve",
                            json={"resolution": "uphold", "reason": "in range"})
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == f"no dispute {2**31 - 1}"


EIGHT_MIB = 8 * 1024 * 1024
WORST_BODIES = {
    "backslashes": b"\\" * EIGHT_MIB,
    "quotes": b'"' * EIGHT_MIB,
    "escaped-nul-lookalikes": (b"\\\\u0000" * (EIGHT_MIB // 7 + 1))[:EIGHT_MIB],
    "one-long-string": b'"' + b"\\\\" * (EIGHT_MIB // 2 - 1) + b'"',
    "brackets-in-a-string": b'"' + b"[{" * (EIGHT_MIB // 2 - 1) + b'"',
}


@pytest.mark.parametrize("kind", sorted(WORST_BODIES))
def test_pre_parse_memory_of_eight_concurrent_worst_case_bodies(kind: str) -> None:
    """Each check needs at most twice the body (it used to be ~40x: int64 arrays)."""
    body = WORST_BODIES[kind]
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(_parse_quietly, [body] * 8))
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert peak <= 8 * 2 * len(body), f"{kind}: {peak / 2**20:.0f} MiB"


def _parse_quietly(body: bytes) -> None:
    with contextlib.suppress(ApiError):
        parse_json(body)


def test_eight_concurrent_8mib_backslash_logins_over_http(live_hub: Any) -> None:
    """The outsider's attack: 8 MiB bodies to the unauthenticated endpoints, 8 at once."""
    body = WORST_BODIES["backslashes"]
    targets = ["/v1/admin/login", "/v1/applications"] * 4

    def post(path: str) -> int:
        return requests.post(live_hub.url + path, data=body, timeout=60,
                             headers={"Content-Type": "application/json"}).status_code

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, targets))
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert statuses == [413] * 8
    # the hub runs in this process: its share is far below 2x body per request
    assert peak <= 8 * 2 * len(body), f"{peak / 2**20:.0f} MiB"


def test_public_endpoints_take_small_bodies_only(live_hub: Any) -> None:
    just_over = b'{"username": "' + b"a" * MAX_PUBLIC_BODY_BYTES + b'"}'
    for path in ("/v1/admin/login", "/v1/applications"):
        response = requests.post(live_hub.url + path, data=just_over, timeout=30,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "body_too_large"
    form = requests.post(live_hub.url + "/console/login", timeout=30,
                         data={"username": "a" * MAX_PUBLIC_BODY_BYTES, "password": "x"})
    assert form.status_code == 413
