"""Which feeds exist and the feed knobs: shared by the builder and retention.

Below `hub.services` so that retention (a service) can read the feed settings
without importing the builder, which sits above the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hub.feeds import lock
from hub.feeds import publisher as pub
from schemas.enums import Feed

ALL_FEEDS: tuple[str, ...] = tuple(f.value for f in Feed)


@dataclass(frozen=True)
class FeedSettings:
    """The feed-related knobs, read once from the HubConfig (`LIANFANG_FEED_*`)."""

    manifest_lifetime: timedelta = pub.DEFAULT_MANIFEST_LIFETIME
    snapshot_every: int = pub.DEFAULT_SNAPSHOT_EVERY
    retention: timedelta = pub.DEFAULT_RETENTION
    lease_ttl: timedelta = lock.DEFAULT_TTL

    @classmethod
    def from_config(cls, config: Any) -> FeedSettings:
        def seconds(name: str, default: timedelta) -> timedelta:
            return timedelta(seconds=int(config.get(name, default.total_seconds())))

        return cls(
            manifest_lifetime=seconds("feed_manifest_lifetime_s", pub.DEFAULT_MANIFEST_LIFETIME),
            snapshot_every=int(config.get("feed_snapshot_every", pub.DEFAULT_SNAPSHOT_EVERY)),
            retention=seconds("feed_retention_s", pub.DEFAULT_RETENTION),
            lease_ttl=seconds("feed_lease_ttl_s", lock.DEFAULT_TTL),
        )
