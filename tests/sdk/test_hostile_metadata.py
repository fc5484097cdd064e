"""Hostile keys.json / roots.json / manifest bodies never make `FeedClient.sync()` raise.

A man in the middle or a compromised CDN copy controls these bytes. Whatever
they hold -- floats, NaN, a lone surrogate, absurd nesting, a JSON value that is
not an object, bytes that are not UTF-8 -- the sync must refuse them with the
specific check's code, record it in `status()`, and keep serving the last good
view. Served by the real loopback static server of tests/sdk/conftest.py.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import errors
from client_sdk.feed_client import FeedClient
from client_sdk.trust import load_root_key, update_root, verify_keyset, verify_manifest
from tests.helpers.static_hub import StaticHub
from tests.sdk.feedfactory import FeedFactory

DEEP = 5000


def _with_signed(real: bytes, value: str) -> bytes:
    """The real document with `value` (JSON text) spliced into `signed`, signatures kept.

    For roots.json (a list of envelopes) the newest statement is the one changed.
    """
    doc = json.loads(real)
    envelope = doc[-1] if isinstance(doc, list) else doc
    envelope["signed"]["zz"] = "@@HOSTILE@@"
    return json.dumps(doc).replace('"@@HOSTILE@@"', value).encode()


def _hostile(real: bytes) -> dict[str, bytes]:
    """Hostile variants of one real signed document (object or list of envelopes)."""
    bodies = {
        "float": b'{"signed":{"a":1.5},"signatures":[]}',
        "nan": b'{"signed":{"a":NaN},"signatures":[]}',
        "infinity": b'{"signed":{"a":-Infinity},"signatures":[]}',
        "lone_surrogate": b'{"signed":{"a":"\\ud800"},"signatures":[]}',
        "deep_json": b'{"signed":' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b',"signatures":[]}',
        "deep_list": b"[" * DEEP + b"]" * DEEP,
        "deep_signed": b'{"signed":' + b'{"a":' * 400 + b"1" + b"}" * 400
        + b',"signatures":[]}',
        "array": b"[1,2,3]",
        "string": b'"keys"',
        "number": b"42",
        "null": b"null",
        "invalid_utf8": b'{"signed":{"a":"\xff\xfe"},"signatures":[]}',
        "huge_int": b'{"signed":{"a":' + b"9" * 5000 + b'},"signatures":[]}',
    }
    if real != b"{}":
        bodies["real_plus_float"] = _with_signed(real, "0.1")
        bodies["real_plus_nan"] = _with_signed(real, "NaN")
        bodies["real_plus_surrogate"] = _with_signed(real, '"\\udfff"')
    return bodies


HOSTILE_NAMES = sorted(_hostile(b"{}"))
REAL_NAMES = ["real_plus_float", "real_plus_nan", "real_plus_surrogate"]


@pytest.fixture(autouse=True)
def _clock(clock_at_now: time_machine.Coordinates) -> time_machine.Coordinates:
    return clock_at_now


@pytest.fixture
def hub(static_hub: StaticHub) -> StaticHub:
    f = static_hub.factory
    f.publish("phone-block", {11, 22, 33})
    f.publish("phone-warn", {44})
    f.publish("phone-allow", set())
    static_hub.publish_tree()
    return static_hub


@pytest.fixture
def synced(hub: StaticHub, tmp_path: Path) -> FeedClient:
    client = FeedClient(hub.url, hub.factory.root_public_b64, tmp_path / "state",
                        token=hub.token)
    assert all(r.ok for r in client.sync().values())
    return client


def _assert_refused(client: FeedClient, feeds: tuple[str, ...], code: str,
                    before: dict[str, object]) -> None:
    results = client.sync()  # must return, not raise
    for feed in feeds:
        result = results[feed]
        assert not result.ok and result.error_code == code, result
        assert result.version == 1
        status = client.status()[feed]
        assert status.last_error_code == code and status.version == 1
        assert client.view(feed) is before[feed]  # the last good view is untouched


@pytest.mark.parametrize("name", HOSTILE_NAMES + REAL_NAMES)
def test_hostile_keys_json(hub: StaticHub, synced: FeedClient, name: str) -> None:
    path = hub.root / "v1/keys.json"
    path.write_bytes(_hostile(path.read_bytes())[name])
    before = {f: synced.view(f) for f in synced.feeds}
    _assert_refused(synced, synced.feeds, "keyset_signature", before)


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, *REAL_NAMES, "non_ascii_keyid"])
def test_hostile_roots_json(hub: StaticHub, synced: FeedClient, name: str) -> None:
    """keys.json signed by a rotated root makes the client read roots.json, which is hostile."""
    before = {f: synced.view(f) for f in synced.feeds}
    hub.factory.rotate_root()
    hub.publish_tree()
    path = hub.root / "v1/roots.json"
    if name == "non_ascii_keyid":
        doc = json.loads(path.read_bytes())
        entries = doc["roots"] if isinstance(doc, dict) else doc
        entries[-1]["signed"]["keyid"] = "é" * 64
        path.write_bytes(json.dumps(doc, ensure_ascii=False).encode())
    else:
        path.write_bytes(_hostile(path.read_bytes())[name])
    _assert_refused(synced, synced.feeds, "root_chain", before)


@pytest.mark.parametrize("name", HOSTILE_NAMES + REAL_NAMES)
def test_hostile_manifest(hub: StaticHub, synced: FeedClient, name: str) -> None:
    path = hub.root / "v1/feeds/phone-block/manifest.json"
    path.write_bytes(_hostile(path.read_bytes())[name])
    before = {f: synced.view(f) for f in synced.feeds}
    _assert_refused(synced, ("phone-block",), "manifest_signature", before)
    results = synced.sync()
    assert results["phone-warn"].ok and results["phone-allow"].ok  # other feeds unaffected


def test_hostile_manifest_on_first_sync(hub: StaticHub, tmp_path: Path) -> None:
    path = hub.root / "v1/feeds/phone-block/manifest.json"
    path.write_bytes(_hostile(b"{}")["lone_surrogate"])
    client = FeedClient(hub.url, hub.factory.root_public_b64, tmp_path / "s", token=hub.token)
    result = client.sync()["phone-block"]
    assert result.error_code == "manifest_signature" and result.version is None
    assert client.view("phone-block") is None
    assert client.status()["phone-block"].last_error_code == "manifest_signature"


def test_malformed_consortium_key_answer(hub: StaticHub, tmp_path: Path) -> None:
    (hub.root / "v1/consortium-key").write_bytes(b'{"keys":[{"epoch":1,"key":7}]}')
    client = FeedClient(hub.url, hub.factory.root_public_b64, tmp_path / "s", token=hub.token)
    assert {r.error_code for r in client.sync().values()} == {"consortium_key"}


def test_unexpected_exception_in_trust_refresh_is_recorded(synced: FeedClient) -> None:
    """The last-resort net: an exception no check anticipated becomes code `internal`.

    The trusted keyset is replaced by a value of the wrong type -- the kind of
    state a future bug could leave behind -- so the refresh fails with an
    AttributeError that no trust check maps.
    """
    before = {f: synced.view(f) for f in synced.feeds}
    synced._keyset = "not a keyset"  # type: ignore[assignment]
    results = synced.sync()
    assert {r.error_code for r in results.values()} == {"internal"}
    assert all(r.version == 1 for r in results.values())
    assert all(synced.view(f) is before[f] for f in synced.feeds)
    assert synced.status()["phone-block"].last_error_code == "internal"


def test_unexpected_exception_in_one_feed_is_recorded(synced: FeedClient) -> None:
    """Same net for one feed: its stored manifest is corrupted in memory (a KeyError)."""
    before = synced.view("phone-block")
    stored = synced._stored["phone-block"]
    assert stored is not None
    synced._stored["phone-block"] = replace(stored, etag=None, manifest={"junk": 1})
    results = synced.sync()
    assert results["phone-block"].error_code == "internal"
    assert results["phone-warn"].ok and results["phone-allow"].ok
    assert synced.view("phone-block") is before
    assert synced.status()["phone-block"].last_error_code == "internal"


# ------------------------------------------------- trust core, arbitrary bytes

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(max_size=8),
    st.sampled_from(["\ud800", "\udfff", "é", "keyset", "manifest", "root"]),
)
_json_ish = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["signed", "signatures", "keyid", "sig", "version", "type",
                         "public_key", "roots", "a"]), inner, max_size=4),
    max_leaves=20,
)


def _encode(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_json_ish)
def test_trust_core_refuses_arbitrary_json_with_sync_errors_only(
    factory: FeedFactory, now: datetime, value: object
) -> None:
    root = load_root_key(factory.root_public_b64)
    keyset = verify_keyset(root, factory.keyset(), now, None, 300)
    data = _encode(value)
    for call in (
        lambda: update_root(root, data),
        lambda: verify_keyset(root, data, now, None, 300),
        lambda: verify_manifest(keyset, data, "phone-block", now, None, 300),
    ):
        with contextlib.suppress(errors.SyncError):
            call()
