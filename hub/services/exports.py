"""The phone lists for threat-intel tooling: STIX 2.1 objects (TAXII), MISP feeds, CSV.

Every export carries the keyed phone tokens the feeds carry (HMAC-SHA256 under
the consortium key of `key_epoch`, docs/ARCHITECTURE.md §2), never a number:
only a member holding the consortium key can match one against its own calls.
STIX has no phone-number observable, so an indicator's pattern names a custom
`x-lianfang-phone-token` object, and a STIX extension definition
(`EXTENSION_DEFINITION`) describes the property extension every indicator carries
(token, epoch, tier, score, categories). The JSON is written by hand: `stix2`
and `stix2-validator` are test dependencies only.

Paging is by `(updated_at, indicator id)`: a listing's `updated_at` is its TAXII
`date_added` (a re-merged listing re-enters the collection as a newer version),
and the indicator id breaks the ties of whole-second timestamps.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hub.models.indicator import Indicator
from hub.models.listing import Listing
from schemas.enums import Feed, IndicatorKind, Tier

NAMESPACE = uuid.UUID("5b0b7a3e-1f0e-5c55-9d4f-6c69616e6667")
"""uuid5 namespace of every STIX/MISP id the hub derives (stable across polls)."""

EXPORT_FEEDS: tuple[Feed, ...] = (Feed.PHONE_BLOCK, Feed.PHONE_WARN)
"""What TAXII and MISP carry: the block and warn lists (the allowlist is a warninglist)."""

def stable_id(name: str) -> str:
    """A UUIDv4-shaped id derived from `name`: stable across polls and exports (a client
    sees one object per listing, re-versioned by `modified`), and the v4 form STIX
    2.1 asks of SDOs (the hash supplies the randomness)."""
    return str(uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4))


STATIC_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""`created`/`date_added` of the hub's identity and the extension definition."""

IDENTITY_ID = "identity--" + stable_id("identity:lianfang-hub")
EXTENSION_ID = "extension-definition--" + stable_id("ext:phone-token")
PHONE_TOKEN_TYPE = "x-lianfang-phone-token"

IDENTITY: dict[str, Any] = {
    "type": "identity",
    "spec_version": "2.1",
    "id": IDENTITY_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "Lianfang hub",
    "identity_class": "system",
}

EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EXTENSION_ID,
    "created_by_ref": IDENTITY_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "Lianfang keyed phone token",
    "description": (
        "A phone number as HMAC-SHA256 (64 lowercase hex) of its E.164 form under the "
        "Lianfang consortium key of epoch key_epoch. STIX has no phone-number observable; "
        "the indicator pattern names x-lianfang-phone-token:value. Only members holding "
        "the consortium key can compute tokens; the hub never publishes numbers."
    ),
    "schema": "https://lianfang.example/docs/MEMBERS.md"
              "#stix-21--taxii-21-and-misp-for-your-threat-intel-platform",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}


SEQ_MAX = 2**31 - 1
"""Above every indicator id: `added_after` skips all objects added at that second."""


@dataclass(frozen=True)
class Cursor:
    """A position in a collection: after the object added at `at` with sort key `seq`.

    `seq` is an indicator id (a 32-bit integer column) or negative for the static
    objects; a decoded cursor outside that range is refused, never sent to SQL.
    """

    at: datetime
    seq: int

    def encode(self) -> str:
        return f"{int(self.at.timestamp())}.{self.seq}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError for anything `encode` did not write."""
        stamp, _, seq = text.partition(".")
        if not stamp.isdigit() or not seq.lstrip("-").isdigit() or len(text) > 40:
            raise ValueError("not a paging cursor")
        if not -len(_STATIC) <= int(seq) <= SEQ_MAX:
            raise ValueError("not a paging cursor")
        return cls(datetime.fromtimestamp(int(stamp), UTC), int(seq))


@dataclass(frozen=True)
class Entry:
    """One object of a collection with its TAXII `date_added` and sort key."""

    obj: dict[str, Any]
    added: datetime
    seq: int


def stix_time(moment: datetime) -> str:
    """STIX timestamps with millisecond precision (what the spec recommends)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def taxii_time(moment: datetime) -> str:
    """TAXII `date_added` and header timestamps (microsecond precision)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _feed_filter(feed: Feed) -> ColumnElement[bool]:
    """SQL for `hub.feeds.journal.phone_feed(...) == feed` over phone listings."""
    not_allowed = Listing.allowlisted.is_(false())
    if feed is Feed.PHONE_BLOCK:
        return and_(not_allowed, Listing.tier == Tier.BLOCK.value, Listing.held.is_(false()))
    if feed is Feed.PHONE_WARN:
        return and_(not_allowed, or_(
            Listing.tier == Tier.WARN.value,
            and_(Listing.tier == Tier.BLOCK.value, Listing.held.is_(true())),
        ))
    return Listing.allowlisted.is_(true())


def _rows(
    session: Session, feed: Feed, after: Cursor | None, limit: int | None
) -> list[tuple[Indicator, Listing]]:
    stmt = (
        select(Indicator, Listing)
        .join(Listing, Listing.indicator_id == Indicator.id)
        .where(Indicator.kind == IndicatorKind.PHONE.value, _feed_filter(feed))
    )
    if after is not None:
        stmt = stmt.where(or_(
            Listing.updated_at > after.at,
            and_(Listing.updated_at == after.at, Listing.indicator_id > after.seq),
        ))
    # Listing's own columns, in the order of `ix_listings_updated_at` (migration 0010).
    stmt = stmt.order_by(Listing.updated_at, Listing.indicator_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(ind, lst) for ind, lst in session.execute(stmt)]


def iter_listings(session: Session, feed: Feed, chunk: int = 5000) -> Iterator[
    tuple[Indicator, Listing]
]:
    """Every listing of `feed` in paging order, `chunk` rows per query."""
    after: Cursor | None = None
    while True:
        rows = _rows(session, feed, after, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        after = Cursor(rows[-1][1].updated_at, rows[-1][0].id)


def confidence(listing: Listing) -> int:
    """STIX/MISP confidence 0–100: the merged score (0–1, docs/ARCHITECTURE.md §5)."""
    return max(0, min(100, round(listing.score * 100)))


def indicator_object(indicator: Indicator, listing: Listing, feed: Feed) -> dict[str, Any]:
    """The STIX 2.1 indicator of one listing (a keyed token, never a number)."""
    modified = listing.updated_at
    created = min(listing.first_seen or modified, modified)
    valid_from = created
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--" + stable_id(f"phone:{indicator.value}"),
        "created_by_ref": IDENTITY_ID,
        "created": stix_time(created),
        "modified": stix_time(modified),
        "name": f"Lianfang {feed.value} phone token",
        "description": "A phone number the Lianfang consortium lists, as its keyed token "
                       "(see the extension definition); match it with the consortium key.",
        "indicator_types": ["malicious-activity" if feed is Feed.PHONE_BLOCK
                            else "anomalous-activity"],
        "pattern": f"[{PHONE_TOKEN_TYPE}:value = '{indicator.value}']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": stix_time(valid_from),
        "confidence": confidence(listing),
        "labels": [c for c in listing.categories.split(",") if c],
        "extensions": {
            EXTENSION_ID: {
                "extension_type": "property-extension",
                "phone_token": indicator.value,
                "key_epoch": indicator.key_epoch,
                "tier": listing.tier,
                "feed": feed.value,
                "score": round(listing.score, 4),
                "reporter_count": listing.reporter_count,
            }
        },
    }
    if not obj["labels"]:
        del obj["labels"]
    if listing.next_review_at is not None and listing.next_review_at > valid_from:
        obj["valid_until"] = stix_time(listing.next_review_at)
    return obj


_STATIC = (
    Entry(IDENTITY, STATIC_DATE, -2),
    Entry(EXTENSION_DEFINITION, STATIC_DATE, -1),
)


def collection_page(
    session: Session, feed: Feed, *, after: Cursor | None, added_after: datetime | None,
    limit: int,
) -> tuple[list[Entry], bool]:
    """Up to `limit` objects of `feed` after the cursor / `added_after`; and whether more.

    The hub identity and the extension definition open every collection, so a
    client that polls from the start can resolve `created_by_ref` and the extension.
    """
    start = after
    if added_after is not None:
        # `added_after` is exclusive: skip everything added at or before it.
        floor = Cursor(added_after, SEQ_MAX)
        start = floor if start is None or (start.at, start.seq) < (floor.at, floor.seq) else start
    static = [e for e in _STATIC if start is None or (e.added, e.seq) > (start.at, start.seq)]
    rows = _rows(session, feed, start, limit + 1)
    entries = static + [
        Entry(indicator_object(ind, lst, feed), lst.updated_at, ind.id) for ind, lst in rows
    ]
    return entries[:limit], len(entries) > limit


# --- MISP -----------------------------------------------------------------------------

MISP_ORG = {"name": "Lianfang hub", "uuid": stable_id("misp:org")}
_MISP_LEVEL = {Feed.PHONE_BLOCK: "1", Feed.PHONE_WARN: "2"}
_MISP_COLOUR = {Feed.PHONE_BLOCK: "#c0392b", Feed.PHONE_WARN: "#e67e22"}


def misp_event(session: Session, feed: Feed, now: datetime) -> dict[str, Any]:
    """One MISP event holding every token of `feed` as a `text` attribute.

    MISP has no keyed-phone type either: `text` in category `Other` with the
    epoch in the comment; `to_ids` true for block, false for warn.
    """
    stamp = str(int(now.timestamp()))
    attributes = [
        {
            "uuid": stable_id(f"misp:{feed.value}:{ind.value}"),
            "type": "text",
            "category": "Other",
            "value": ind.value,
            "to_ids": feed is Feed.PHONE_BLOCK,
            "timestamp": str(int(lst.updated_at.timestamp())),
            "comment": f"lianfang phone token, key_epoch {ind.key_epoch}, tier {lst.tier}, "
                       f"confidence {confidence(lst)}",
            "distribution": "5",
        }
        for ind, lst in iter_listings(session, feed)
    ]
    return {
        "Event": {
            "uuid": stable_id(f"misp:event:{feed.value}"),
            "info": f"Lianfang {feed.value} (keyed phone tokens)",
            "date": now.strftime("%Y-%m-%d"),
            "timestamp": stamp,
            "publish_timestamp": stamp,
            "published": True,
            "analysis": "2",
            "threat_level_id": _MISP_LEVEL[feed],
            "distribution": "3",
            "Orgc": dict(MISP_ORG),
            "Tag": [{"name": f"lianfang:feed=\"{feed.value}\"", "colour": _MISP_COLOUR[feed],
                     "relationship_type": "", "local": False}],
            "Attribute": attributes,
        }
    }


def misp_manifest_entry(event: dict[str, Any]) -> dict[str, Any]:
    """What a MISP feed's manifest.json says of one event (as PyMISP writes it)."""
    body = event["Event"]
    return {
        body["uuid"]: {
            "Orgc": dict(body["Orgc"]),
            "Tag": [dict(t) for t in body["Tag"]],
            "info": body["info"],
            "date": body["date"],
            "analysis": int(body["analysis"]),
            "threat_level_id": int(body["threat_level_id"]),
            "timestamp": int(body["timestamp"]),
        }
    }


def write_misp_feed(session: Session, dest: Path, now: datetime) -> dict[str, int]:
    """Write a MISP feed (manifest.json + one `<uuid>.json` per list) into `dest`.

    Returns the number of attributes per feed. A MISP instance adds it as a feed
    of format "MISP Feed" pointed at wherever `dest` is served from.
    """
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for feed in EXPORT_FEEDS:
        event = misp_event(session, feed, now)
        (dest / f"{event['Event']['uuid']}.json").write_text(
            json.dumps(event, separators=(",", ":")), encoding="utf-8"
        )
        manifest.update(misp_manifest_entry(event))
        counts[feed.value] = len(event["Event"]["Attribute"])
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return counts


def misp_warninglist(session: Session, now: datetime) -> dict[str, Any]:
    """The phone allowlist as a MISP warninglist (tokens a member should never flag)."""
    return {
        "name": "Lianfang phone allowlist (keyed tokens)",
        "version": int(now.strftime("%Y%m%d")),
        "description": "Phone numbers the Lianfang consortium allowlisted, as keyed "
                       "HMAC tokens; never the numbers.",
        "matching_attributes": ["text"],
        "type": "string",
        "list": [ind.value for ind, _ in iter_listings(session, Feed.PHONE_ALLOW)],
    }


CSV_COLUMNS = ("feed", "token", "key_epoch", "tier", "confidence", "categories",
               "first_seen", "last_seen", "valid_until")


def csv_export(session: Session, feeds: tuple[Feed, ...] = (*EXPORT_FEEDS, Feed.PHONE_ALLOW)
               ) -> str:
    """A plain CSV of the phone lists (tokens only), one row per listing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for feed in feeds:
        for ind, lst in iter_listings(session, feed):
            writer.writerow([
                feed.value, ind.value, ind.key_epoch, lst.tier, confidence(lst),
                lst.categories.replace(",", ";"),
                stix_time(lst.first_seen) if lst.first_seen else "",
                stix_time(lst.last_seen) if lst.last_seen else "",
                stix_time(lst.next_review_at) if lst.next_review_at else "",
            ])
    return out.getvalue()
