"""Serving feeds: keys.json, roots.json, manifests and artifacts, with HTTP caching.

The feed directory is plain static files; these views only add authentication,
strict path validation (an artifact name is exactly 64 hex + `.lfa`, so nothing
can escape the directory) and cache headers: a manifest is revalidated on every
poll (`no-cache` + ETag, so an unchanged poll costs a 304), an artifact never
changes (`immutable`).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from hub import db, get_config
from hub.auth.admin_auth import require_admin
from hub.auth.reader_tokens import require_feed_scope, require_reader_or_member
from hub.errors import ApiError
from hub.feeds import builder
from hub.feeds import publisher as pub
from hub.feeds.keystore import KeystoreError
from hub.services import audit
from schemas.canonical import canonical_json
from schemas.enums import Feed
from schemas.timefmt import format_time, utcnow

bp = Blueprint("feeds", __name__, url_prefix="/v1")

KEYSET_ISSUE_GRANULARITY_S = 3600
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MANIFEST_CACHE = "no-cache"
ARTIFACT_CACHE = "public, max-age=31536000, immutable"


def _feed(name: str) -> Feed:
    try:
        return Feed(name)
    except ValueError:
        raise ApiError(
            404, "unknown_feed", f"no feed {name!r}; feeds are {', '.join(f.value for f in Feed)}"
        ) from None


def _cached(body: bytes, etag: str, cache_control: str, mimetype: str) -> Response:
    """200 with the body, or 304 when the client already holds this exact version."""
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype=mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    return response


def keyset_lifetime() -> timedelta:
    return timedelta(seconds=get_config().feeds.keyset_lifetime_s)


def keyset_issue_time(now: datetime) -> datetime:
    """`now` rounded down to the hour: keys.json is byte-identical within the hour,
    so its ETag works and CDNs can cache it (Ed25519 signatures are deterministic)."""
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % KEYSET_ISSUE_GRANULARITY_S, tz=now.tzinfo)


def _keystore():  # noqa: ANN202 - Keystore, imported lazily with the app
    return builder.keystore_for(current_app._get_current_object())  # type: ignore[attr-defined]


def _signed_document(body: bytes) -> Response:
    return _cached(body, hashlib.sha256(body).hexdigest(), MANIFEST_CACHE, "application/json")


@bp.get("/keys.json")
def keys_json() -> ResponseReturnValue:
    """The root-signed feed keyset (public: it only contains public keys)."""
    try:
        envelope = _keystore().keyset_envelope(keyset_issue_time(utcnow()), keyset_lifetime())
    except KeystoreError as exc:
        raise ApiError(503, "no_keys", "the hub has no signing keys yet; run init") from exc
    return _signed_document(canonical_json(envelope))


@bp.get("/roots.json")
def roots_json() -> ResponseReturnValue:
    """The root rotation chain, oldest first (public)."""
    try:
        chain = _keystore().roots_document()
    except KeystoreError as exc:
        raise ApiError(503, "no_keys", "the hub has no signing keys yet; run init") from exc
    return _signed_document(canonical_json(chain))


@bp.get("/feeds")
@require_reader_or_member
def list_feeds() -> ResponseReturnValue:
    published = {s["feed"]: s for s in builder.feed_summaries(db.session())}
    feeds = []
    for feed in Feed:
        summary = published.get(feed.value)
        feeds.append({
            "feed": feed.value,
            "version": summary["version"] if summary else 0,
            "entry_count": summary["entry_count"] if summary else 0,
            "updated_at": format_time(summary["updated_at"]) if summary else None,
            "manifest_url": f"/v1/feeds/{feed.value}/manifest.json",
        })
    response = jsonify({"feeds": feeds})
    response.headers["Cache-Control"] = "no-cache"
    return response


def _paths(feed: Feed) -> pub.FeedPaths:
    return pub.feed_paths(get_config().feeds_dir, feed.value)


@bp.get("/feeds/<feed>/manifest.json")
@require_reader_or_member
def manifest(feed: str) -> ResponseReturnValue:
    which = _feed(feed)
    require_feed_scope(which)
    path = _paths(which).manifest
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise ApiError(404, "not_published", f"feed {feed!r} has not been built yet") from None
    return _signed_document(body)


@bp.get("/feeds/<feed>/artifacts/<name>")
@require_reader_or_member
def artifact(feed: str, name: str) -> ResponseReturnValue:
    sha, dot, ext = name.partition(".")
    if not _SHA256.match(sha) or dot != "." or ext != "lfa":
        raise ApiError(404, "not_found", "artifact names are <64 lowercase hex>.lfa")
    which = _feed(feed)
    require_feed_scope(which)
    path: Path = _paths(which).artifacts / name
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise ApiError(404, "not_found", "no such artifact (expired or never published)") from None
    return _cached(body, sha, ARTIFACT_CACHE, "application/octet-stream")


@bp.post("/admin/feeds/build")
@require_admin
def admin_build() -> ResponseReturnValue:
    """Build now instead of waiting for the scheduler (same lease, so never twice)."""
    session = db.session()
    # End the auth transaction first: on SQLite it holds the write lock the build needs.
    session.commit()
    result = builder.build_feeds(current_app._get_current_object())  # type: ignore[attr-defined]
    audit.record(session, g.actor, "feeds.build", "feeds", result.as_dict())
    session.commit()
    return jsonify(result.as_dict()), 409 if result.busy else 200
