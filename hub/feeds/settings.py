"""Which feeds exist and the feed knobs: shared by the builder and retention.

Below `hub.services` so that retention (a service) can read the feed settings
without importing the builder, which sits above the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hub.config import HubConfig
from hub.feeds import lock
from hub.feeds import publisher as pub
from schemas.enums import Feed

ALL_FEEDS: tuple[str, ...] = tuple(f.value for f in Feed)


@dataclass(frozen=True)
class FeedSettings:
    """The feed-related knobs as the publisher takes them (`HubConfig.feeds`, `LIANFANG_FEED_*`)."""

    manifest_lifetime: timedelta = pub.DEFAULT_MANIFEST_LIFETIME
    snapshot_every: int = pub.DEFAULT_SNAPSHOT_EVERY
    retention: timedelta = pub.DEFAULT_RETENTION
    lease_ttl: timedelta = lock.DEFAULT_TTL
    delta_window: timedelta = pub.DEFAULT_DELTA_WINDOW
    delta_window_versions: int = pub.DEFAULT_DELTA_WINDOW_VERSIONS

    @classmethod
    def from_config(cls, config: HubConfig) -> FeedSettings:
        feeds = config.feeds
        return cls(
            manifest_lifetime=timedelta(seconds=feeds.manifest_lifetime_s),
            snapshot_every=feeds.snapshot_every,
            retention=timedelta(seconds=feeds.retention_s),
            lease_ttl=timedelta(seconds=feeds.lease_ttl_s),
            delta_window=timedelta(hours=feeds.delta_window_hours),
            delta_window_versions=feeds.delta_window_versions,
        )
