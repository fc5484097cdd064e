"""Serving feeds over real HTTP: auth, ETag/304, cache headers, path safety, admin build."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.feeds.builder import build_feeds, keystore_for
from schemas.envelope import verify_envelope
from schemas.keys import b64decode, key_id

FEEDS = ["phone-block", "phone-warn", "phone-allow", "complaint-groups"]


def _token(live_hub: Any) -> tuple[str, str, Any, str]:
    member_id, key = live_hub.new_member()
    mint = live_hub.member(member_id, key, "POST", "/v1/reader-tokens", json={})
    assert mint.status_code == 201, mint.text
    body = mint.json()
    return body["token"], member_id, key, body["id"]


def _get(live_hub: Any, path: str, token: str | None = None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(live_hub.url + path, headers=headers, timeout=30)


def test_keys_and_roots_are_public_and_verify(live_hub: Any) -> None:
    ks = keystore_for(live_hub.app)
    raw = b64decode(ks.root_public_b64())
    root = {key_id(raw): Ed25519PublicKey.from_public_bytes(raw)}
    response = _get(live_hub, "/v1/keys.json")
    assert response.status_code == 200
    keyset = verify_envelope(response.json(), root)
    assert keyset["type"] == "keyset" and keyset["feed_keys"]
    assert response.headers["ETag"].strip('"') == hashlib.sha256(response.content).hexdigest()
    again = _get(live_hub, "/v1/keys.json", **{"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    roots = _get(live_hub, "/v1/roots.json")
    assert roots.status_code == 200 and roots.json() == []


def test_manifest_and_artifacts_with_reader_token(live_hub: Any) -> None:
    build_feeds(live_hub.app)
    token, *_ = _token(live_hub)
    listing = _get(live_hub, "/v1/feeds", token)
    assert listing.status_code == 200
    assert [f["feed"] for f in listing.json()["feeds"]] == FEEDS
    assert all(f["version"] == 1 for f in listing.json()["feeds"])

    response = _get(live_hub, "/v1/feeds/phone-block/manifest.json", token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    etag = response.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(response.content).hexdigest()
    unchanged = _get(live_hub, "/v1/feeds/phone-block/manifest.json", token,
                     **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    stale = _get(live_hub, "/v1/feeds/phone-block/manifest.json", token,
                 **{"If-None-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 200

    ref = response.json()["signed"]["snapshot"]
    art = _get(live_hub, f"/v1/feeds/phone-block/{ref['path']}", token)
    assert art.status_code == 200
    assert hashlib.sha256(art.content).hexdigest() == ref["sha256"]
    assert art.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert art.headers["ETag"].strip('"') == ref["sha256"]
    cached = _get(live_hub, f"/v1/feeds/phone-block/{ref['path']}", token,
                  **{"If-None-Match": art.headers["ETag"]})
    assert cached.status_code == 304


def test_signed_member_request_reads_a_manifest(live_hub: Any) -> None:
    build_feeds(live_hub.app)
    member_id, key = live_hub.new_member()
    response = live_hub.member(member_id, key, "GET", "/v1/feeds/complaint-groups/manifest.json")
    assert response.status_code == 200
    assert response.json()["signed"]["feed"] == "complaint-groups"


@pytest.mark.parametrize("path", [
    "/v1/feeds/phone-block/artifacts/..%2F..%2Fkeys%2Froot-1.pem",
    "/v1/feeds/phone-block/artifacts/" + "A" * 64 + ".lfa",
    "/v1/feeds/phone-block/artifacts/" + "a" * 63 + ".lfa",
    "/v1/feeds/phone-block/artifacts/" + "a" * 64 + ".pem",
    "/v1/feeds/phone-block/.state/entries-1.u64",
    "/v1/feeds/..%2Fkeys/manifest.json",
    "/v1/feeds/no-such-feed/manifest.json",
])
def test_paths_cannot_escape_the_feed_directory(live_hub: Any, path: str) -> None:
    build_feeds(live_hub.app)
    token, *_ = _token(live_hub)
    response = _get(live_hub, path, token)
    assert response.status_code == 404
    assert b"PRIVATE KEY" not in response.content


def test_reads_are_refused_without_live_credentials(live_hub: Any) -> None:
    build_feeds(live_hub.app)
    path = "/v1/feeds/phone-block/manifest.json"
    assert _get(live_hub, path).status_code == 401
    assert _get(live_hub, "/v1/feeds").status_code == 401
    assert _get(live_hub, path, "lfr_" + "x" * 40).status_code == 401

    token, member_id, key, token_id = _token(live_hub)
    assert _get(live_hub, path, token).status_code == 200
    revoked = live_hub.member(member_id, key, "DELETE", f"/v1/reader-tokens/{token_id}")
    assert revoked.status_code == 200, revoked.text
    assert _get(live_hub, path, token).status_code in (401, 403)

    token2, member2, key2, _ = _token(live_hub)
    assert _get(live_hub, path, token2).status_code == 200
    suspend = live_hub.admin("POST", f"/v1/admin/members/{member2}/suspend",
                             json={"reason": "audit"})
    assert suspend.status_code == 200, suspend.text
    assert _get(live_hub, path, token2).status_code in (401, 403)
    signed = live_hub.member(member2, key2, "GET", path)
    assert signed.status_code in (401, 403)


def test_admin_build_endpoint(live_hub: Any) -> None:
    member_id, key = live_hub.new_member()
    refused = live_hub.member(member_id, key, "POST", "/v1/admin/feeds/build", json={})
    assert refused.status_code in (401, 403)
    response = live_hub.admin("POST", "/v1/admin/feeds/build", json={})
    assert response.status_code == 200, response.text
    assert response.json()["published"] == {f: 1 for f in FEEDS}
    again = live_hub.admin("POST", "/v1/admin/feeds/build", json={})
    assert again.json() == {"busy": False, "published": {}, "refreshed": [], "refused": {}}
    token, *_ = _token(live_hub)
    manifest = _get(live_hub, "/v1/feeds/phone-warn/manifest.json", token).json()
    assert json.loads(json.dumps(manifest))["signed"]["version"] == 1


def test_unbuilt_feed_is_404(live_hub: Any) -> None:
    token, *_ = _token(live_hub)
    response = _get(live_hub, "/v1/feeds/phone-block/manifest.json", token)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_published"
