"""Attack: a hostile mirror pads the hub's genuine signed documents with junk signatures.

The review appended 90,000 signatures under the real key id to a genuine
keys.json and manifest; every one was verified (39 s of screener CPU per poll)
and the document still passed. Now the trust core refuses a document over its
size limit before parsing, looks at no more than `MAX_SIGNATURES` signatures,
and refuses duplicate key ids -- each with its own error code, and fast.
The real hub serves the genuine documents; the mirror (tests/helpers) pads them.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client_sdk import errors
from client_sdk.feed_client import FeedClient
from client_sdk.trust import MAX_DOCUMENT_BYTES, load_root_key, verify_keyset
from hub.feeds.builder import build_feeds
from schemas.envelope import MAX_SIGNATURES, TooManySignaturesError, verified_signers
from tests.helpers.hostile_mirror import hostile_mirror

JUNK = 90_000
FAST_S = 5.0  # the unpadded check takes milliseconds; 90,000 verifications took 39 s


def _padded(genuine: bytes, count: int, *, junk: bool = True) -> bytes:
    """The genuine envelope plus `count` signatures under its real key id."""
    doc = json.loads(genuine)
    real = doc["signatures"][0]
    extra = {"keyid": real["keyid"], "sig": ("A" * 86 + "==") if junk else real["sig"]}
    doc["signatures"] = [real] + [extra] * count
    return json.dumps(doc).encode()


def _reader_token(hub: Any) -> str:
    member = hub.new_member()
    return hub.member(*member, "POST", "/v1/reader-tokens", json={}).json()["token"]


@pytest.mark.parametrize("path", ["/v1/keys.json", "/v1/feeds/phone-block/manifest.json"])
def test_90000_junk_signatures_are_refused_fast(
    live_hub: Any, root_key: str, tmp_path: Path, path: str
) -> None:
    build_feeds(live_hub.app)
    token = _reader_token(live_hub)
    genuine = live_hub.http.get(live_hub.url + path,
                                headers={"Authorization": f"Bearer {token}"}).content
    padded = _padded(genuine, JUNK)
    assert len(padded) > MAX_DOCUMENT_BYTES
    with hostile_mirror(live_hub.url) as mirror:
        mirror.overrides[path] = padded
        client = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                            feeds=["phone-block"])
        started = time.perf_counter()
        result = client.sync()["phone-block"]
        elapsed = time.perf_counter() - started
    assert not result.ok and result.error_code == "document_too_large"
    assert elapsed < FAST_S


@pytest.mark.parametrize(
    ("count", "junk", "code"),
    [(MAX_SIGNATURES, True, "too_many_signatures"), (1, False, "duplicate_signature")],
)
def test_padding_under_the_size_limit_has_its_own_code(
    live_hub: Any, root_key: str, tmp_path: Path, count: int, junk: bool, code: str
) -> None:
    """Nine signatures (one genuine) or the genuine one twice: refused, not verified."""
    build_feeds(live_hub.app)
    token = _reader_token(live_hub)
    genuine = live_hub.http.get(live_hub.url + "/v1/keys.json").content
    with hostile_mirror(live_hub.url) as mirror:
        mirror.overrides["/v1/keys.json"] = _padded(genuine, count, junk=junk)
        client = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                            feeds=["phone-block"])
        result = client.sync()["phone-block"]
    assert not result.ok and result.error_code == code


class _CountingKey:
    """A trusted key that counts how often the trust core asks it to verify."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self.key, self.calls = key, 0

    def verify(self, signature: bytes, data: bytes) -> None:
        self.calls += 1
        self.key.verify(signature, data)


def test_verification_never_loops_over_padding(live_hub: Any, root_key: str) -> None:
    """Below the size check too: 90,000 signatures cost zero signature verifications."""
    genuine = live_hub.http.get(live_hub.url + "/v1/keys.json").content
    root = load_root_key(root_key)
    counting = _CountingKey(root.public_key)
    envelope = json.loads(_padded(genuine, JUNK))
    with pytest.raises(TooManySignaturesError):
        verified_signers(envelope, {root.keyid: counting})  # type: ignore[dict-item]
    assert counting.calls == 0
    assert verified_signers(json.loads(genuine), {root.keyid: counting}) == {  # type: ignore[dict-item]
        root.keyid}
    assert counting.calls == 1
    with pytest.raises(errors.DocumentTooLargeError):
        verify_keyset(root, _padded(genuine, JUNK), datetime.now(UTC), None, 0)


class _CountingSession(requests.Session):
    """Counts the body bytes the SDK actually pulled off the wire, per path."""

    def __init__(self) -> None:
        super().__init__()
        self.read: dict[str, int] = {}

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        path = request.path_url.split("?", 1)[0]
        original = response.iter_content

        def counted(chunk_size: int = 1, decode_unicode: bool = False) -> Any:
            for chunk in original(chunk_size, decode_unicode):
                self.read[path] = self.read.get(path, 0) + len(chunk)
                yield chunk

        response.iter_content = counted  # type: ignore[method-assign]
        return response


@pytest.mark.parametrize("path", ["/v1/roots.json", "/v1/keys.json",
                                  "/v1/feeds/phone-block/manifest.json", "/v1/consortium-key"])
def test_every_document_the_sdk_parses_stops_downloading_at_the_size_limit(
    live_hub: Any, root_key: str, tmp_path: Path, path: str
) -> None:
    """Re-attack: the parse limit is 1 MiB, but the SDK downloaded up to 16 MiB of any
    metadata document first (and the consortium-key answer had no limit of its own).
    A 4 MiB document from the mirror is now refused on its announced length, read not
    at all, with `document_too_large`, for every document the screener parses."""
    build_feeds(live_hub.app)
    token = _reader_token(live_hub)
    session = _CountingSession()
    with hostile_mirror(live_hub.url) as mirror:
        mirror.overrides[path] = b"[" + b" " * (4 * MAX_DOCUMENT_BYTES) + b"]"
        client = FeedClient(mirror.url, root_key, tmp_path / "s", token=token,
                            feeds=["phone-block"], session=session)
        result = client.sync()["phone-block"]
    assert not result.ok and result.error_code == "document_too_large"
    assert session.read.get(path, 0) <= MAX_DOCUMENT_BYTES
