"""Registers the feed commands (build-feeds, root-key, rotations, export-feeds)."""

import hub.feeds.cli  # noqa: F401
